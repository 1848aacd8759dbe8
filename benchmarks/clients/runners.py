"""The clients: how each is set up, how it sends one scenario, and which version ran.

Each runner sends one scenario's request to `url` and returns what the
client reported (scenarios.Outcome). Where the scenario says the connection
is reused, the client first sends `warm` on the same session or invocation,
so that the request goes out on a keep-alive connection. Every client has a
timeout on every request; curl also runs under a bound of its own. Each
client is imported where it runs, so that one not installed here leaves
out only its own rows.
"""

import asyncio
import importlib.util
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from platform import python_version

from .scenarios import POST_BODY, Outcome, Scenario

# The statuses urllib3's Retry retries; 429 and 503 with their Retry-After.
RETRY_STATUSES = (429, 500, 502, 503, 504)
# How long one curl run may take in all: four attempts at the longest
# timeout, and curl's waits of 1, 2 and 4 s between them, fit well within.
CURL_LIMIT = 60.0


def error_name(error: BaseException) -> str:
    """Return `error`'s class as its package exports it: "httpx.ReadError", "TimeoutError"."""
    package = type(error).__module__.split(".")[0]
    name = type(error).__qualname__
    return name if package == "builtins" else f"{package}.{name}"


def _body(scenario: Scenario) -> bytes | None:
    return POST_BODY if scenario.method == "POST" else None


def run_requests(scenario: Scenario, url: str, warm: str | None) -> Outcome:
    """Send with a requests Session whose adapter retries as urllib3's Retry is usually set."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    # The retries urllib3 itself makes: any further attempt the server saw
    # would have been resent beneath it.
    retried: list[int] = []

    class CountingRetry(Retry):
        def increment(self, *args, **kwargs):
            following = super().increment(*args, **kwargs)
            # Reached only when urllib3 goes on: an exhausted Retry raises instead.
            retried.append(1)
            return following

    # allowed_methods stays the default: the idempotent methods, not POST.
    retry = CountingRetry(
        total=3,
        backoff_factor=0.1,
        status_forcelist=RETRY_STATUSES,
        respect_retry_after_header=True,
    )
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        if warm:
            session.get(warm, timeout=scenario.timeout).raise_for_status()
        try:
            response = session.request(
                scenario.method, url, data=_body(scenario), timeout=scenario.timeout
            )
        except requests.RequestException as error:
            return Outcome(error_name(error), len(retried))
        return Outcome(str(response.status_code), len(retried))


def run_httpx(scenario: Scenario, url: str, warm: str | None) -> Outcome:
    """Send with an httpx Client whose transport retries 3 times (connect errors only)."""
    import httpx

    transport = httpx.HTTPTransport(retries=3)
    with httpx.Client(transport=transport, timeout=scenario.timeout) as client:
        if warm:
            client.get(warm).raise_for_status()
        try:
            response = client.request(scenario.method, url, content=_body(scenario))
        except httpx.HTTPError as error:
            return Outcome(error_name(error))
        # A retried connect never reached the server: no attempt it saw is one.
        return Outcome(str(response.status_code))


async def _aiohttp(scenario: Scenario, url: str, warm: str | None) -> Outcome:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=scenario.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if warm:
            async with session.get(warm) as response:
                response.raise_for_status()
                await response.read()
        try:
            async with session.request(scenario.method, url, data=_body(scenario)) as response:
                await response.read()
                return Outcome(str(response.status))
        except (aiohttp.ClientError, TimeoutError) as error:
            return Outcome(error_name(error))


def run_aiohttp(scenario: Scenario, url: str, warm: str | None) -> Outcome:
    """Send with a plain aiohttp ClientSession: it has no retries of its own to set."""
    return asyncio.run(_aiohttp(scenario, url, warm))


def curl_runner(*options: str) -> Callable[[Scenario, str, str | None], Outcome]:
    """Return a runner of curl with `options`, such as --retry 3."""

    def run_curl(scenario: Scenario, url: str, warm: str | None) -> Outcome:
        timeout = f"{scenario.timeout:g}"
        with tempfile.TemporaryDirectory(prefix="clients_curl_") as folder:
            # --no-progress-meter keeps curl's warnings: each retry of its own says "Will retry".
            words = ["curl", "--no-progress-meter"]
            if warm:
                # --next starts the scenario's options afresh, on the same connections.
                words += ["--max-time", timeout, "-o", f"{folder}/warm", warm, "--next"]
            # The output is a file: curl truncates it before a retry, which /dev/null refuses.
            words += ["--connect-timeout", timeout, "--max-time", timeout, *options]
            words += ["-o", f"{folder}/body", "-w", "%{http_code} %{exitcode}"]
            if scenario.method == "POST":
                words += ["--data-binary", POST_BODY.decode()]
            elif scenario.method != "GET":
                words += ["-X", scenario.method]
            result = subprocess.run(
                [*words, url], capture_output=True, text=True, timeout=CURL_LIMIT, check=False
            )
        code, exit_code = result.stdout.split()[-2:]
        reported = code if exit_code == "0" else f"exit {exit_code}"
        return Outcome(reported, result.stderr.count("Will retry"))

    return run_curl


@dataclass(frozen=True)
class Client:
    """One client of the table, with what it needs to run."""

    name: str
    run: Callable[[Scenario, str, str | None], Outcome]
    # The Python module or program it needs.
    needs: str
    program: bool = False

    def missing(self) -> str | None:
        """Return why this client cannot run here, or None."""
        if self.program:
            found = shutil.which(self.needs) is not None
        else:
            found = importlib.util.find_spec(self.needs) is not None
        if found:
            return None
        how = f"apt-get install {self.needs}" if self.program else f"pip install {self.needs}"
        return f"{self.needs} is not installed ({how})"


CLIENTS: tuple[Client, ...] = (
    Client("requests (urllib3 Retry)", run_requests, "requests"),
    Client("httpx (retries=3)", run_httpx, "httpx"),
    Client("aiohttp", run_aiohttp, "aiohttp"),
    Client("curl --retry 3", curl_runner("--retry", "3"), "curl", program=True),
    Client(
        "curl --retry 3 --retry-all-errors",
        curl_runner("--retry", "3", "--retry-all-errors"),
        "curl",
        program=True,
    ),
)
BY_NAME = {client.name: client for client in CLIENTS}


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    return str(getattr(importlib.import_module(module), "__version__", "?"))


def versions() -> str:
    """Return the versions of the clients installed here, and of Python, as one sentence."""
    parts = []
    for main, beneath in (("requests", "urllib3"), ("httpx", "httpcore"), ("aiohttp", None)):
        version = _version(main)
        if version is not None:
            below = _version(beneath) if beneath else None
            parts.append(f"{main} {version}" + (f" with {beneath} {below}" if below else ""))
    if shutil.which("curl"):
        # "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 ...": the first two versions.
        words = subprocess.run(
            ["curl", "--version"], capture_output=True, text=True, check=True
        ).stdout.split()
        parts.append(f"curl {words[1]} ({words[3].replace('/', ' ')})")
    return f"Clients: {', '.join(parts)}; Python {python_version()}."
