"""A real browser (Debian's Chromium, driven by Playwright) against the real server.

A page served from a second loopback origin calls the API with fetch(), as a
web app would: CORS must let it read the answers, preflights included, or
block it when its origin is not allowed. The /docs page must render, with its
style allowed by its Content-Security-Policy, and its sample links must work.
"""

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import sync_playwright

from simple_flask import __version__
from tests.support import LOOPBACK, Server, running_server

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
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
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


def access_log(server: Server, expected: tuple[str, str], timeout: float = 5) -> list[tuple]:
    """The (method, path, status) lines the server logged, once `expected` is among them."""
    deadline = time.monotonic() + timeout
    while True:
        entries = []
        for line in server.output()[0].splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and "method" in entry:
                    entries.append((entry["method"], entry["path"], entry.get("status")))
        if any(entry[:2] == expected for entry in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def api_calls(page, api: str, origin: str) -> dict:
    page.goto(f"{origin}/")
    assert page.evaluate("location.origin") == origin != api
    return page.evaluate(CALLS, api)


def test_a_page_on_another_origin_reads_the_api(page):
    with running_server() as server, second_origin() as origin:
        api = f"http://{LOOPBACK}:{server.port}"
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
        # The custom header made the browser ask first: a real preflight.
        logged = access_log(server, ("OPTIONS", "/status/201"))
        assert ("OPTIONS", "/status/201", 204) in logged
        assert ("PUT", "/status/201", 201) in logged
        assert not [m for m in page.console_messages if "CORS" in m]


def test_a_page_on_an_origin_not_allowed_is_blocked(page):
    elsewhere = "https://app.example"
    with (
        running_server(env={"SIMPLE_FLASK_CORS_ORIGINS": elsewhere}) as server,
        second_origin() as origin,
    ):
        api = f"http://{LOOPBACK}:{server.port}"
        results = api_calls(page, api, origin)
        for call in ("greeting", "put", "unavailable"):
            assert results[call] == {"blocked": "TypeError: Failed to fetch"}, call
        logged = access_log(server, ("OPTIONS", "/status/201"))
        # The server did answer the simple GET: the browser kept it from the page.
        assert ("GET", "/Kalimaha/", 200) in logged
        # The preflight got no Access-Control-Allow-Origin, so the PUT was never sent.
        assert ("OPTIONS", "/status/201", 204) in logged
        assert not [entry for entry in logged if entry[0] == "PUT"]
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
