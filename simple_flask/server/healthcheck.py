"""The health probe behind `simple-flask healthcheck`: GET /healthz (or /readyz), stdlib only.

A container image has no curl; this runs with the interpreter the service
already needs, and imports neither Flask nor waitress, so it starts quickly.
"""

import http.client
import time

PATH = "/healthz"


def probe_address(host: str) -> str:
    """Return the address to probe a server listening on `host`: loopback for a wildcard."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def check(host: str, port: int, timeout: float = 2.0, path: str = PATH) -> tuple[bool, str]:
    """GET `path` on host:port: (True, "") on a 200 within `timeout` s, else (False, why)."""
    deadline = time.monotonic() + timeout
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "simple-flask-healthcheck"})
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, f"no answer within {timeout:g}s"
        # The connection's timeout bounds each step; the rest of the budget
        # bounds waiting for the answer.
        connection.sock.settimeout(remaining)
        response = connection.getresponse()
        response.read()
        if time.monotonic() > deadline:
            return False, f"no answer within {timeout:g}s"
        if response.status != 200:
            return False, f"{path} answered {response.status} {response.reason}"
        return True, ""
    except TimeoutError:
        return False, f"no answer within {timeout:g}s"
    except (OSError, http.client.HTTPException) as error:
        return False, f"{type(error).__name__}: {error}"
    finally:
        connection.close()
