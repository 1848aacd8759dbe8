"""A real browser (Debian's Chromium, driven by Playwright) against the real server.

A page served from a second loopback origin calls the API with fetch(), as a
web app would: CORS must let it read the answers, preflights included, or
block it when its origin is not allowed. The /docs page must render Swagger
UI from this origin alone, with nothing refused by its Content-Security-Policy,
show every parameter by name and type, and "Try it out" must send each
operation and show its answer, under a mount prefix too.
"""

import contextlib
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from simple_flask import __version__, create_app
from simple_flask.apidoc.openapi import HTTP_METHODS
from simple_flask.core.settings import Settings
from tests.support import LOOPBACK, running_server, serving_in_thread, skip_or_fail

pytestmark = pytest.mark.slow
# Playwright's assertions wait as long as the page's own actions do (the page fixture).
expect.set_options(timeout=15_000)

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


# --- /docs: Swagger UI, served from here ----------------------------------------------------

# The document's tags, under which Swagger UI groups the operations.
TAGS = ("greetings", "blueprint", "status codes", "service")
# What /docs loads, all from the service itself.
DOCS_FILES = {"/docs", "/docs.css", "/docs.js", "/docs-init.js", "/openapi.json"}
# Records what the Content-Security-Policy refused, before any script of the page runs.
VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


class Docs:
    """/docs of a running service, opened in `page`, with every request the page made."""

    def __init__(self, page, base: str, path: str = "/docs"):
        self.page = page
        self.base = base
        self.requests: list[str] = []
        page.add_init_script(VIOLATIONS)
        page.on("request", lambda request: self.requests.append(request.url))
        self.response = page.goto(f"{base}{path}")
        self.spec = page.request.get(urljoin(f"{base}{path}", "openapi.json")).json()
        # Swagger UI has rendered the document: one block per operation.
        self.operations = [
            (path, method, item[method])
            for path, item in self.spec["paths"].items()
            for method in HTTP_METHODS.intersection(item)
        ]
        self.by_id = {operation["operationId"]: operation for _, _, operation in self.operations}
        expect(page.locator(".opblock")).to_have_count(len(self.operations))

    def violations(self) -> list[str]:
        return self.page.evaluate("window.violations")

    def errors(self) -> list[str]:
        """The console's errors and warnings."""
        return [m for m in self.page.console_messages if m.split(":")[0] in ("error", "warning")]

    def block(self, operation: dict):
        """The operation's block, opened, with "Try it out" pressed."""
        tag = operation["tags"][0].replace(" ", "_")
        block = self.page.locator(f"#operations-{tag}-{operation['operationId']}")
        block.locator(".opblock-summary-control").click()
        block.locator("button.try-out__btn").click()
        return block

    def execute(self, block) -> int:
        """Press Execute in `block`; return the status its response panel shows."""
        block.locator("button.execute").click()
        shown = block.locator(".live-responses-table tbody .response-col_status")
        return int(shown.inner_text().split()[0])

    def answer(self, block):
        """The body of the answer shown in `block`'s response panel."""
        return block.locator(".live-responses-table tbody .highlight-code")


def shown_type(schema: dict) -> str:
    """The type Swagger UI writes under a parameter's name, for a schema it reads rightly."""
    if schema["type"] == "array":
        return f"array<{schema['items']['type']}>"
    return schema["type"]


def test_the_docs_page_is_swagger_ui_loaded_from_this_origin_alone(page, tmp_path):
    with running_server() as server:
        base = f"http://{LOOPBACK}:{server.port}"
        docs = Docs(page, base)
        assert docs.response.status == 200
        assert page.title() == f"simple_flask {__version__} · API"
        expect(page.locator(".info .title")).to_contain_text("simple_flask")
        # Swagger UI's style sheet applied: the policy let it load.
        method = page.locator(".opblock-get .opblock-summary-method").first
        expect(method).to_have_css("background-color", "rgb(97, 175, 254)")
        screenshot = tmp_path / "docs.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # Every request went to the service (data: URLs are no requests to anyone).
        sent = [url for url in docs.requests if not url.startswith("data:")]
        assert {urlsplit(url).path for url in sent} == DOCS_FILES
        assert {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in sent} == {base}
        # Nothing refused by the Content-Security-Policy, nothing failed, no warning.
        assert docs.violations() == []
        assert docs.errors() == []


@pytest.mark.parametrize("tag", TAGS)
def test_every_operation_shows_named_parameters_and_is_tried_out(page, tag):
    """Each operation's parameters as the document types them, and "Try it out" with its examples.

    The status routes answer the example's code; every other route succeeds.
    A required parameter without an example is asked for, and nothing sent.
    One tag's operations a test, so that each test stays short.
    """
    with running_server() as server:
        docs = Docs(page, f"http://{LOOPBACK}:{server.port}")
        assert {operation["tags"][0] for _, _, operation in docs.operations} == set(TAGS)
        parameters = docs.spec["paths"]["/status/{codes}"]["parameters"]
        codes = next(p for p in parameters if p["name"] == "codes")
        for path, method, operation in docs.operations:
            if operation["tags"][0] != tag:
                continue
            parameters = docs.spec["paths"][path].get("parameters", [])
            block = docs.block(operation)
            rows = block.locator("tr[data-param-name]")
            expect(rows).to_have_count(len(parameters))
            for row, parameter in zip(rows.all(), parameters, strict=True):
                assert row.get_attribute("data-param-name") == parameter["name"], path
                shown = row.locator(".parameter__type").inner_text()
                assert shown == shown_type(parameter["schema"]), (path, parameter["name"])
            unfilled = [p for p in parameters if p.get("required") and "example" not in p]
            if unfilled:
                sent = len(docs.requests)
                block.locator("button.execute").click()
                for parameter in unfilled:
                    field = block.locator(f"tr[data-param-name={parameter['name']}] input")
                    expect(field).to_have_class(re.compile(r"\binvalid\b"))
                assert docs.requests[sent:] == []
                assert block.locator(".live-responses-table").count() == 0
            else:
                status = docs.execute(block)
                if "{codes}" in path:
                    assert status == int(codes["example"]), (method, path)
                else:
                    assert 200 <= status < 300, (method, path, status)
            # Closed again, so that the page keeps one operation's answer at a time.
            block.locator(".opblock-summary-control").click()
        assert docs.violations() == []


def test_try_it_out_sends_the_status_asked_for(page):
    with running_server() as server:
        docs = Docs(page, f"http://{LOOPBACK}:{server.port}")

        block = docs.block(docs.by_id["getStatusCodes"])
        block.locator("tr[data-param-name=codes] input").fill("503")
        assert docs.execute(block) == 503
        expect(docs.answer(block)).to_contain_text("503 Service Unavailable")
        expect(block.locator(".request-url")).to_contain_text(f"{docs.base}/status/503?")

        block = docs.block(docs.by_id["postStatusCodes"])
        block.locator("tr[data-param-name=codes] input").fill("201")
        assert docs.execute(block) == 201
        expect(docs.answer(block)).to_contain_text("201 Created")
        # The one error is Chromium's note of the 503 answer; nothing else failed.
        assert docs.errors() == [
            "error: Failed to load resource: the server responded with a status of 503"
            " (Service Unavailable)"
        ]
        assert docs.violations() == []


def test_a_sequence_is_made_and_reported_from_the_page(page):
    """The key operations have no example: the key is typed, once a request has used it."""
    with running_server() as server:
        docs = Docs(page, f"http://{LOOPBACK}:{server.port}")

        block = docs.block(docs.by_id["getStatusCodes"])
        block.locator("tr[data-param-name=codes] input").fill("200,503")
        block.locator("tr[data-param-name=sequence] input").fill("from-the-page")
        assert docs.execute(block) == 200

        block = docs.block(docs.by_id["getStatusSequencesKey"])
        block.locator("tr[data-param-name=key] input").fill("from-the-page")
        assert docs.execute(block) == 200
        expect(docs.answer(block)).to_contain_text('"key": "from-the-page"')


def test_the_docs_page_under_a_mount_prefix_tries_out_below_it(page):
    """Mounted at /api, the page loads its files from /api/ and sends "Try it out" there."""
    service = create_app({"SETTINGS": Settings(access_log=False)})
    app = DispatcherMiddleware(NotFound(), {"/api": service})
    with serving_in_thread(app) as port:
        base = f"http://{LOOPBACK}:{port}"
        docs = Docs(page, base, "/api/docs")
        block = docs.block(docs.by_id["getStatusCodes"])
        block.locator("tr[data-param-name=codes] input").fill("503")
        assert docs.execute(block) == 503
        *loaded, tried = [urlsplit(u).path for u in docs.requests if not u.startswith("data:")]
        assert set(loaded) == {f"/api{path}" for path in DOCS_FILES}
        assert tried == "/api/status/503"


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
