"""A real browser (Debian's Chromium, driven by Playwright) against the real server.

A page served from a second loopback origin calls the API with fetch(), as a
web app would: CORS must let it read the answers, preflights included, or
block it when its origin is not allowed. The /docs page must render, with its
style allowed by its Content-Security-Policy, and its sample links must work.
"""

import contextlib
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from simple_flask import __version__
from tests.support import LOOPBACK, running_server, skip_or_fail

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLIENT_PAGE = b"<!doctype html><html><head><title>client</title></head><body>client</body></html>"

# The calls a web app on another origin makes: a greeting as JSON (a simple
# request), a PUT with a custom header (the browser sends a preflight first),
# and a 503 whose Retry-After the script reads. A call the browser blocks
# rejects with a TypeError, reported here instead of thrown.
CALLS = """
async (base) => {
  const outcome = async (promise, read) => {
    try {
      return await read(await promise);
    } catch (error) {
      return {blocked: `${error.name}: ${error.message}`};
    }
  };
  return {
    greeting: await outcome(
      fetch(`${base}/Kalimaha/`, {headers: {Accept: "application/json"}}),
      async (r) => ({status: r.status, body: await r.json()}),
    ),
    put: await outcome(
      fetch(`${base}/status/201`, {method: "PUT", headers: {"X-Trace": "browser-test"}}),
      async (r) => ({status: r.status, text: await r.text()}),
    ),
    unavailable: await outcome(
      fetch(`${base}/status/503`),
      async (r) => ({
        status: r.status,
        text: await r.text(),
        retryAfter: r.headers.get("Retry-After"),
        cacheControl: r.headers.get("Cache-Control"),
      }),
    ),
  };
}
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of Debian's Chromium; skip (or, under CI, fail) when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        reason = "no chromium on PATH: install Debian's package (apt-get install chromium)"
        skip_or_fail(reason)
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    """A headless Chromium, launched once for the module."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser):
    """A fresh page in a context of its own (no shared cache or preflight cache)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.console_messages = messages
    try:
        yield page
    finally:
        context.close()


class _ClientPage(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(CLIENT_PAGE)))
        self.end_headers()
        self.wfile.write(CLIENT_PAGE)

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def second_origin() -> Iterator[str]:
    """Serve the client page on another loopback port; yield its origin, stop on exit."""
    server = ThreadingHTTPServer((LOOPBACK, 0), _ClientPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Network:
    """What Chromium's network layer saw for one page, through the DevTools protocol.

    Unlike the page's script, it sees preflights, and why the browser blocked
    a request (its CORS error).
    """

    def __init__(self, page):
        self.page = page
        self.requests: dict[str, tuple[str, str]] = {}
        # (resource type, method, path, status, headers with lower-case names)
        self.responses: list[tuple[str, str, str, int, dict[str, str]]] = []
        # (method, path, CORS error)
        self.failures: list[tuple[str, str, str | None]] = []
        # The status each request got on the wire, by request id, even when the
        # browser then withheld the response from the page.
        self.wire: dict[str, int] = {}
        session = page.context.new_cdp_session(page)
        session.on("Network.requestWillBeSent", self._request)
        session.on("Network.responseReceived", self._response)
        session.on("Network.responseReceivedExtraInfo", self._wire)
        session.on("Network.loadingFailed", self._failure)
        session.send("Network.enable")

    def _request(self, event):
        request = event["request"]
        self.requests[event["requestId"]] = (request["method"], urlsplit(request["url"]).path)

    def _response(self, event):
        response = event["response"]
        # A preflight has a request id of its own, announced with no request event.
        method = "OPTIONS" if event["type"] == "Preflight" else None
        method = method or self.requests.get(event["requestId"], ("?", ""))[0]
        headers = {name.lower(): value for name, value in response["headers"].items()}
        path = urlsplit(response["url"]).path
        self.responses.append((event["type"], method, path, response["status"], headers))

    def _wire(self, event):
        self.wire[event["requestId"]] = event["statusCode"]

    def _failure(self, event):
        method, path = self.requests.get(event["requestId"], ("?", ""))
        cors_error = (event.get("corsErrorStatus") or {}).get("corsError")
        self.failures.append((method, path, cors_error))

    def wait_for(self, predicate, timeout_ms: int = 5000) -> None:
        """Let events arrive until `predicate()` holds, or fail after `timeout_ms`."""
        for _ in range(timeout_ms // 50):
            if predicate():
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"responses {self.responses}, failures {self.failures}")

    def preflights(self, path: str) -> list[tuple[int, dict[str, str]]]:
        return [(r[3], r[4]) for r in self.responses if r[0] == "Preflight" and r[2] == path]

    def answered(self, method: str, path: str) -> list[int]:
        """The statuses the page's fetches of `method` `path` got on the wire."""
        return [
            self.wire[request_id]
            for request_id, request in self.requests.items()
            if request == (method, path) and request_id in self.wire
        ]


def api_calls(page, api: str, origin: str) -> dict:
    page.goto(f"{origin}/")
    assert page.evaluate("location.origin") == origin != api
    return page.evaluate(CALLS, api)


def test_a_page_on_another_origin_reads_the_api(page):
    with running_server() as server, second_origin() as origin:
        api = f"http://{LOOPBACK}:{server.port}"
        network = Network(page)
        results = api_calls(page, api, origin)
        assert results["greeting"] == {
            "status": 200,
            "body": {"message": "Hallo Kalimaha from CORE!"},
        }
        assert results["put"] == {"status": 201, "text": "201 Created"}
        unavailable = results["unavailable"]
        assert unavailable["status"] == 503
        assert unavailable["text"] == "503 Service Unavailable"
        # Readable only because Access-Control-Expose-Headers lists it.
        assert unavailable["retryAfter"] == "1"
        # Cache-Control is safelisted: readable without being exposed.
        assert unavailable["cacheControl"] == "no-store"
        # The custom header made the browser ask first: a real preflight,
        # answered by the server with what the PUT needs.
        network.wait_for(lambda: network.preflights("/status/201"))
        ((status, headers),) = network.preflights("/status/201")
        assert status == 204
        assert headers["access-control-allow-origin"] == "*"
        assert "PUT" in headers["access-control-allow-methods"]
        assert headers["access-control-allow-headers"].lower() == "x-trace"
        # The simple requests needed none.
        assert not network.preflights("/Kalimaha/")
        assert not network.preflights("/status/503")
        assert not network.failures
        assert not [m for m in page.console_messages if "CORS" in m]


def test_a_page_on_an_origin_not_allowed_is_blocked(page):
    elsewhere = "https://app.example"
    with (
        running_server(env={"SIMPLE_FLASK_CORS_ORIGINS": elsewhere}) as server,
        second_origin() as origin,
    ):
        api = f"http://{LOOPBACK}:{server.port}"
        network = Network(page)
        results = api_calls(page, api, origin)
        for call in ("greeting", "put", "unavailable"):
            assert results[call] == {"blocked": "TypeError: Failed to fetch"}, call
        network.wait_for(lambda: len(network.failures) == 3)
        # The server did answer the simple GETs; the browser kept the answers
        # from the page, for want of Access-Control-Allow-Origin.
        assert network.answered("GET", "/Kalimaha/") == [200]
        assert network.answered("GET", "/status/503") == [503]
        assert ("GET", "/Kalimaha/", "MissingAllowOriginHeader") in network.failures
        # The preflight got no Access-Control-Allow-Origin, so the PUT was never sent.
        ((_, headers),) = network.preflights("/status/201")
        assert "access-control-allow-origin" not in headers
        assert ("PUT", "/status/201", "PreflightMissingAllowOriginHeader") in network.failures
        assert not network.answered("PUT", "/status/201")
        assert [m for m in page.console_messages if "blocked by CORS policy" in m]

    # The same page is allowed once its origin is listed.
    with (
        second_origin() as origin,
        running_server(env={"SIMPLE_FLASK_CORS_ORIGINS": f"{elsewhere},{origin}"}) as server,
    ):
        results = api_calls(page, f"http://{LOOPBACK}:{server.port}", origin)
        assert results["put"] == {"status": 201, "text": "201 Created"}
        assert results["unavailable"]["retryAfter"] == "1"


def test_the_docs_page_renders_and_its_samples_work(page, tmp_path):
    with running_server() as server:
        base = f"http://{LOOPBACK}:{server.port}"
        response = page.goto(f"{base}/docs")
        assert response.status == 200
        assert page.title() == f"simple_flask {__version__} · API"
        # The inline style applied: the policy allowed it by its hash.
        color = page.eval_on_selector(".method-get", "e => getComputedStyle(e).backgroundColor")
        assert color == "rgb(26, 127, 55)"
        assert page.locator("article.route").count() >= 10
        screenshot = tmp_path / "docs.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # Nothing was refused by the Content-Security-Policy, nothing failed to load.
        assert not [m for m in page.console_messages if m.startswith("error")], (
            page.console_messages
        )

        page.click("a.sample[href='./Kalimaha/']")
        page.wait_for_url(f"{base}/Kalimaha/")
        assert page.inner_text("body") == "Hallo Kalimaha from CORE!"

        page.go_back()
        page.click("a.sample[href='./status/418']")
        page.wait_for_url(f"{base}/status/418")
        assert page.inner_text("body") == "418 I'm a Teapot"


# Faults on demand as a web app on another origin meets them: a dropped
# connection rejects fetch() with a TypeError, a cut body rejects the read,
# and a custom header is readable because the server exposes it.
FAULT_CALLS = """
async (base) => {
  const outcome = async (promise, read) => {
    try {
      return await read(await promise);
    } catch (error) {
      return {rejected: error.name};
    }
  };
  return {
    reset: await outcome(fetch(`${base}/status/reset`), async (r) => ({status: r.status})),
    close: await outcome(fetch(`${base}/status/close`), async (r) => ({status: r.status})),
    truncated: await outcome(
      fetch(`${base}/status/200?truncate=2`),
      async (r) => ({status: r.status, text: await r.text()}),
    ),
    header: await outcome(
      fetch(`${base}/status/429?header=X-Test:on&retry_after=2`),
      async (r) => ({
        status: r.status,
        test: r.headers.get("X-Test"),
        retryAfter: r.headers.get("Retry-After"),
      }),
    ),
  };
}
"""


def test_a_page_meets_faults_as_faults(page):
    with running_server() as server, second_origin() as origin:
        api = f"http://{LOOPBACK}:{server.port}"
        page.goto(f"{origin}/")
        results = page.evaluate(FAULT_CALLS, api)
        assert results["reset"] == {"rejected": "TypeError"}
        assert results["close"] == {"rejected": "TypeError"}
        # The status and headers arrived; reading the cut body fails.
        assert results["truncated"] == {"rejected": "TypeError"}
        assert results["header"] == {"status": 429, "test": "on", "retryAfter": "2"}
        stdout, _ = server.output()
        assert '"fault":"reset"' in stdout and '"fault":"close"' in stdout
