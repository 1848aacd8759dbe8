"""Every run-time setting, read from the environment in this one place and validated."""

import dataclasses
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import shown

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# scheme://host[:port], the form browsers send in the Origin header.
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)
# A DNS name: dot-separated labels of letters, digits and inner hyphens (RFC 1123).
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?")


MEMORY_URL = "memory://"


def redact_url(url: str) -> str:
    """Return `url` with its user name and password replaced by ***, for logs and errors."""
    # Cut at the last "@", as a URL parser does, so a password holding "@" is hidden whole.
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, slashes, _ = head.partition("//")
    return f"{scheme}{slashes}***@{tail}" if slashes else f"***@{tail}"


def _without_secret(value: str) -> str:
    """Return a bad URL that may hold a password as it may be shown.

    Only a URL whose credentials are set apart by "@" is shown, with them
    replaced; of any other, only the scheme: whatever the rest holds may be a
    password typed where it does not belong.
    """
    scheme, slashes, rest = value.partition("://")
    if slashes and "@" in rest:
        return redact_url(value)
    if slashes and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,15}", scheme):
        return f"{scheme}://... (the rest not shown: it may hold a password)"
    return "... (not shown: it may hold a password)"


class SettingsError(ValueError):
    """A setting holds a value outside what it allows; str() is one line for the operator."""

    def __init__(self, variable: str, value: str, allowed: str, secret: bool = False):
        # Quoted on one line whatever the value holds, and cut so that the line
        # stays readable. A value that may hold a password is shown without it.
        if secret:
            value = _without_secret(value)
        super().__init__(f"{variable}={shown(value, 100)} is not allowed: expected {allowed}")
        self.variable = variable
        self.value = value
        self.allowed = allowed


def _integer(low: int, high: int) -> tuple[Callable[[str], int], str]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text.strip()):
            raise ValueError(text)
        number = int(text)
        if not low <= number <= high:
            raise ValueError(text)
        return number

    return parse, f"an integer from {low} to {high}"


def _seconds(low: float, high: float) -> tuple[Callable[[str], float], str]:
    def parse(text: str) -> float:
        # Plain decimal notation only: float() would also take "nan", "1e3" and "1_0".
        if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text.strip()):
            raise ValueError(text)
        number = float(text)
        if not (math.isfinite(number) and low <= number <= high):
            raise ValueError(text)
        return number

    return parse, f"a number of seconds from {low:g} to {high:g}"


def _choice(choices: tuple[str, ...]) -> tuple[Callable[[str], str], str]:
    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in choices:
            raise ValueError(text)
        return value

    return parse, "one of " + ", ".join(choices)


def _boolean() -> tuple[Callable[[str], bool], str]:
    def parse(text: str) -> bool:
        value = text.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(text)

    return parse, "one of 1, true, yes, on, 0, false, no, off"


def _origins() -> tuple[Callable[[str], tuple[str, ...]], str]:
    def parse(text: str) -> tuple[str, ...]:
        if text.strip() == "*":
            return ("*",)
        origins = tuple(part.strip().rstrip("/") for part in text.split(","))
        if not origins or not all(_ORIGIN.fullmatch(origin) for origin in origins):
            raise ValueError(text)
        return origins

    return parse, "* or a comma-separated list of origins such as https://example.com:8443"


def _host() -> tuple[Callable[[str], str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        if not _HOSTNAME.fullmatch(value) or value.replace(".", "").isdigit():
            raise ValueError(text)
        return value

    return parse, "an IP address or host name to listen on, such as 0.0.0.0, :: or 127.0.0.1"


def _proxy() -> tuple[Callable[[str], str | None], str]:
    def parse(text: str) -> str | None:
        value = text.strip()
        if not value:
            return None
        if value == "*":
            return value
        # waitress compares it with the peer's address as text, so only an
        # address in its canonical form can ever match.
        return str(ipaddress.ip_address(value))

    return parse, "the proxy's IP address (such as 10.0.0.1), * for any peer, or empty for none"


def _state_url() -> tuple[Callable[[str], str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        if value in ("", MEMORY_URL):
            return MEMORY_URL
        parts = urlsplit(value)
        # .port raises ValueError itself for a port that is not a number in range.
        if (
            parts.scheme not in ("redis", "rediss")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or not re.fullmatch(r"(/[0-9]{0,5})?", parts.path)
            or (parts.port is not None and parts.port < 1)
            or any(c.isspace() for c in value)
        ):
            raise ValueError(text)
        _host()[0](parts.hostname)
        return value

    return parse, (
        "memory:// (the default), or redis://[user:password@]host[:port][/db]"
        " or rediss://... for Redis"
    )


def _prefix() -> tuple[Callable[[str], object], str]:
    def parse(text: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", text):
            raise ValueError(text)
        return text

    return parse, "1 to 64 characters of A-Z a-z 0-9 . _ : -"


# field name -> (environment variable, parser and its description of what it allows)
_VARIABLES: dict[str, tuple[str, tuple[Callable[[str], object], str]]] = {
    "host": ("HOST", _host()),
    "port": ("PORT", _integer(1, 65535)),
    "threads": ("SIMPLE_FLASK_THREADS", _integer(1, 256)),
    "connection_limit": ("SIMPLE_FLASK_CONNECTION_LIMIT", _integer(10, 65536)),
    "idle_timeout": ("SIMPLE_FLASK_IDLE_TIMEOUT", _integer(1, 3600)),
    "max_request_body": ("SIMPLE_FLASK_MAX_REQUEST_BODY", _integer(0, 1 << 30)),
    "log_level": ("SIMPLE_FLASK_LOG_LEVEL", _choice(LOG_LEVELS)),
    "access_log": ("SIMPLE_FLASK_ACCESS_LOG", _boolean()),
    "cors_origins": ("SIMPLE_FLASK_CORS_ORIGINS", _origins()),
    "shutdown_grace": ("SIMPLE_FLASK_SHUTDOWN_GRACE", _seconds(0, 300)),
    "max_sleep_ms": ("SIMPLE_FLASK_MAX_SLEEP_MS", _integer(0, 600_000)),
    "max_answer_size": ("SIMPLE_FLASK_MAX_ANSWER_SIZE", _integer(0, 1 << 30)),
    "trusted_proxy": ("SIMPLE_FLASK_TRUSTED_PROXY", _proxy()),
    "state_url": ("SIMPLE_FLASK_STATE_URL", _state_url()),
    "sequence_ttl": ("SIMPLE_FLASK_SEQUENCE_TTL", _integer(1, 604_800)),
    "max_sequences": ("SIMPLE_FLASK_MAX_SEQUENCES", _integer(1, 10_000_000)),
    "state_prefix": ("SIMPLE_FLASK_STATE_PREFIX", _prefix()),
}
# Settings whose value may hold a password: never shown whole.
_SECRET = frozenset({"state_url"})


def _as_text(value: object) -> str:
    """Write a typed value the way it would be written in the environment."""
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@dataclass(frozen=True)
class Settings:
    """The validated settings of one process; defaults are the production ones."""

    host: str = "0.0.0.0"
    port: int = 8080
    # waitress serves each request on one of these threads; requests are short
    # and mostly wait on I/O, so a few threads per core keep both cores busy.
    threads: int = 8
    # waitress's default of 100 lets 100 idle sockets lock every other client
    # out; a connection costs a file descriptor and a few KiB.
    connection_limit: int = 4096
    # Seconds a connection may sit idle or mid-request before it is closed.
    idle_timeout: int = 30
    # waitress's default is 1 GiB; no route here takes more than a small body.
    max_request_body: int = 1 << 20
    log_level: str = "INFO"
    access_log: bool = True
    cors_origins: tuple[str, ...] = ("*",)
    # Seconds that requests in flight get to finish after SIGTERM or SIGINT.
    shutdown_grace: float = 10.0
    max_sleep_ms: int = 10_000
    # The largest body the status service makes for ?size= (10 MiB).
    max_answer_size: int = 10 * 1024 * 1024
    # Forwarded headers are trusted only from this peer address, when it is set.
    trusted_proxy: str | None = None
    # Where failure sequences live: memory:// (this process) or a Redis URL,
    # shared by replicas. Left out of repr(): it may hold a password.
    state_url: str = dataclasses.field(default=MEMORY_URL, repr=False)
    # Seconds a sequence is kept after its last use.
    sequence_ttl: int = 600
    # Sequences kept at most, the least recently used going first: 2 KiB each
    # for plain codes, 19 KiB at worst, under 10 MiB in all (docs/sequences.md).
    max_sequences: int = 500
    # The start of every Redis key of the store, so that deployments can share a database.
    state_prefix: str = "simple_flask"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read the settings from `environ` (default os.environ); raise SettingsError if bad.

        `overrides` (such as command-line flags) win over the environment; a
        None override is ignored. They are validated like the environment.
        """
        environ = os.environ if environ is None else environ
        unknown = set(overrides) - set(_VARIABLES)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        # Each value is parsed for its own field, so it has that field's type.
        values: dict[str, Any] = {}
        for field, (variable, _) in _VARIABLES.items():
            raw = environ.get(variable)
            if raw is not None:
                values[field] = cls.parse(field, raw)
        for field, value in overrides.items():
            if value is not None:
                values[field] = cls.parse(field, _as_text(value))
        return dataclasses.replace(cls(), **values)

    @staticmethod
    def parse(field: str, text: str, name: str | None = None) -> object:
        """Parse `text` as the value of `field`; a SettingsError names `name` or its variable."""
        variable, (parse, allowed) = _VARIABLES[field]
        try:
            return parse(text)
        except ValueError:
            raise SettingsError(name or variable, text, allowed, secret=field in _SECRET) from None

    @staticmethod
    def variables() -> dict[str, tuple[str, str]]:
        """Map each field to its environment variable and a description of what it allows."""
        return {
            field: (variable, allowed) for field, (variable, (_, allowed)) in _VARIABLES.items()
        }
