"""Request ids and the JSON access log: in the app, and on a real server's stdout and stderr."""

import io
import json
import logging
import re
import time

import pytest
from flask import Flask

from simple_flask import create_app
from simple_flask.core.settings import Settings
from simple_flask.wsgi.access_line import MAX_LOGGED_PATH, access_line
from simple_flask.wsgi.environ import REQUEST_ID
from simple_flask.wsgi.request_log import (
    RequestIdFilter,
    RequestLog,
    current_request_id,
    request_id,
)
from tests.support import running_server

KEYS = ["time", "method", "path", "status", "duration_ms", "bytes", "client", "request_id"]
GENERATED = re.compile(r"[0-9a-f]{32}")


def get(client, path, **kwargs):
    """Send a request with the test client and close the response, which writes the log line."""
    with client.open(path, **kwargs) as response:
        return response


def log_lines(capsys) -> list[dict]:
    """Parse what the app wrote to stdout: each line must be one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def raising_app():
    """The root app with one extra route that raises."""
    app = create_app({"SETTINGS": Settings()})

    def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/boom", "boom", boom)
    return app


def test_one_line_per_request_with_every_key(client, capsys):
    capsys.readouterr()
    began = time.perf_counter()
    response = get(client, "/Kalimaha/", headers={"X-Request-ID": "abc-123"})
    took_ms = (time.perf_counter() - began) * 1000
    (line,) = log_lines(capsys)
    assert list(line) == KEYS
    assert line["method"] == "GET"
    assert line["path"] == "/Kalimaha/"
    assert line["status"] == 200
    assert line["bytes"] == len(response.data) == len("Hallo Kalimaha from CORE!")
    assert line["client"] == "127.0.0.1"
    assert line["request_id"] == "abc-123" == response.headers["X-Request-ID"]
    # Timed inside the request, so within what the test timed around it (and
    # in milliseconds, rounded to the microsecond).
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] <= took_ms + 0.001
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/nope/x/y", "GET", 404),
        ("/healthz", "POST", 405),
        ("/boom", "GET", 500),
        ("/x", "GET", 308),
    ],
)
def test_errors_carry_a_request_id_and_are_logged(raising_app, capsys, path, method, status):
    capsys.readouterr()
    response = get(raising_app.test_client(), path, method=method)
    assert response.status_code == status
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])
    (line,) = log_lines(capsys)
    assert (line["status"], line["request_id"]) == (status, response.headers["X-Request-ID"])


def test_a_413_from_the_app_carries_a_request_id(capsys):
    app = create_app({"SETTINGS": Settings(max_request_body=10)})

    def echo():
        from flask import request

        return request.get_data()

    app.add_url_rule("/echo", "echo", echo, methods=["POST"])
    response = get(app.test_client(), "/echo", method="POST", data=b"x" * 11)
    assert response.status_code == 413
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 129, "has space", 'quote"d', "back\\slash", "tab\tid", "caf\u00e9", "\x7f"],
)
def test_an_unusable_incoming_id_is_replaced(client, incoming):
    response = get(client, "/", headers={"X-Request-ID": incoming})
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])
    assert response.headers["X-Request-ID"] != incoming


@pytest.mark.parametrize(
    "incoming", ["a", "x" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e", "00-abc-01", "a/b:c=d"]
)
def test_a_usable_incoming_id_is_kept(incoming):
    assert request_id(incoming) == incoming


def test_generated_ids_differ():
    assert len({request_id(None) for _ in range(1000)}) == 1000


def test_each_response_has_exactly_one_request_id(client):
    response = get(client, "/", headers={"X-Request-ID": "one"})
    assert response.headers.getlist("X-Request-ID") == ["one"]


def test_head_logs_no_body_bytes(client, capsys):
    capsys.readouterr()
    get(client, "/", method="HEAD")
    (line,) = log_lines(capsys)
    assert (line["method"], line["bytes"]) == ("HEAD", 0)


def test_a_hostile_path_still_gives_valid_json(client, capsys):
    capsys.readouterr()
    get(client, '/a"b\\c\x01%E2%9C%93%FF/')
    (line,) = log_lines(capsys)
    assert line["path"] == '/a"b\\c\x01\u2713\ufffd/'


def test_a_long_path_is_cut_in_the_log(client, capsys):
    capsys.readouterr()
    get(client, "/" + "x" * 5000 + "/")
    (line,) = log_lines(capsys)
    assert len(line["path"]) == MAX_LOGGED_PATH + 3 and line["path"].endswith("...")


def test_access_log_off_keeps_the_request_id(capsys):
    app = create_app({"SETTINGS": Settings(access_log=False)})
    capsys.readouterr()
    response = get(app.test_client(), "/")
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])
    assert capsys.readouterr().out == ""


def test_the_app_can_read_the_request_id_and_logs_carry_it(caplog):
    app = Flask("probe")
    seen = {}

    @app.route("/")
    def index():
        from flask import request

        seen["environ"] = request.environ[REQUEST_ID]
        seen["context"] = current_request_id.get()
        logging.getLogger("probe").warning("inside")
        return "ok"

    app.wsgi_app = RequestLog(app.wsgi_app, access_log=False)
    caplog.handler.addFilter(RequestIdFilter())
    get(app.test_client(), "/", headers={"X-Request-ID": "req-7"})
    assert seen == {"environ": "req-7", "context": "req-7"}
    assert [record.request_id for record in caplog.records] == ["req-7"]


def test_a_body_that_raises_is_still_logged(capsys):
    def app(environ, start_response):
        start_response("200 OK", [])

        def body():
            yield b"abc"
            raise OSError("client went away")

        return body()

    wrapped = RequestLog(app)
    capsys.readouterr()
    body = wrapped(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/s"}, lambda status, headers, exc=None: None
    )
    with pytest.raises(OSError):
        list(body)
    body.close()
    body.close()
    (line,) = log_lines(capsys)
    assert (line["status"], line["bytes"], line["path"]) == (200, 3, "/s")


@pytest.mark.parametrize(
    ("started", "shown"),
    [
        (0.25, "1970-01-01T00:00:00.250Z"),
        (86400 * 365 + 59.999, "1971-01-01T00:00:59.999Z"),
        (1.5, "1970-01-01T00:00:01.500Z"),
    ],
)
def test_the_time_is_utc_with_milliseconds(started, shown):
    line = access_line(started, "GET", "/", 200, 1.0, 0, None, "abc")
    assert json.loads(line)["time"] == shown


def test_access_line_formats_one_json_object_per_line():
    # Its speed is measured by the benchmark suite (python -m benchmarks), not here.
    line = access_line(1e9, "GET", "/status/200", 200, 1.5, 10, "127.0.0.1", "abc")
    assert line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2001-09-09T01:46:40.000Z",
        "method": "GET",
        "path": "/status/200",
        "status": 200,
        "duration_ms": 1.5,
        "bytes": 10,
        "client": "127.0.0.1",
        "request_id": "abc",
    }


def wait_until(condition, timeout: float = 30) -> bool:
    """Poll `condition` until it holds; False if it never did within `timeout` s (hung)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def logged(server, wanted) -> list[dict]:
    """Wait until the running `server`'s access log holds a line for each of `wanted`.

    `wanted` maps a name to a test of one parsed line; the lines found are
    returned in the order of `wanted`. The line of a request is written as
    its answer finishes, which may be after the client has read the answer.
    """
    found: dict[str, dict] = {}

    def every_line_written() -> bool:
        for text in server.output()[0].splitlines(keepends=True):
            if not text.endswith("\n"):
                # Still being written.
                continue
            line = json.loads(text)
            for name, test in wanted.items():
                if test(line):
                    found.setdefault(name, line)
        return len(found) == len(wanted)

    assert wait_until(every_line_written), f"lines never logged: {set(wanted) - set(found)}"
    return [found[name] for name in wanted]


@pytest.mark.slow
def test_real_server_logs_json_on_stdout_and_app_logs_on_stderr():
    with running_server(env={"SIMPLE_FLASK_LOG_LEVEL": "INFO"}) as server:
        response, _ = server.request("GET", "/blueprint/Ann/", headers={"X-Request-ID": "r-1"})
        assert response.getheader("X-Request-ID") == "r-1"
        server.request("GET", "/status/404", headers={"X-Request-ID": "r-2"})
        # waitress answers this one itself, before the app.
        server.request("GET", "/", headers={"Content-Length": "x"})
        logged(
            server,
            {
                "r-1": lambda line: line["request_id"] == "r-1",
                "r-2": lambda line: line["request_id"] == "r-2",
                "400": lambda line: line["status"] == 400,
            },
        )
    stdout, stderr = server.output()
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert all(list(line) == KEYS for line in lines)
    by_id = {line["request_id"]: line for line in lines}
    assert by_id["r-1"]["path"] == "/blueprint/Ann/" and by_id["r-1"]["status"] == 200
    # Lines are written as responses finish, not always in request order.
    assert {404, 400} <= {line["status"] for line in lines}
    assert "Serving on http://127.0.0.1:" in stderr
    assert not any(line.startswith("{") for line in stderr.splitlines())


@pytest.mark.slow
def test_real_server_access_log_can_be_switched_off():
    with running_server(env={"SIMPLE_FLASK_ACCESS_LOG": "off"}) as server:
        response, _ = server.request("GET", "/")
        assert GENERATED.fullmatch(response.getheader("X-Request-ID"))
    assert server.output()[0] == ""


@pytest.mark.slow
def test_log_level_filters_application_logs():
    with running_server(env={"SIMPLE_FLASK_LOG_LEVEL": "warning"}) as server:
        server.request("GET", "/")
    assert "Serving on" not in server.output()[1]


@pytest.mark.parametrize(
    "make",
    [
        lambda: [b"abcde"],
        lambda: (b"abcde",),
        lambda: [b"ab", b"cde"],
        lambda: (chunk for chunk in (b"abc", b"de")),
        lambda: [b""],
    ],
)
def test_bytes_are_counted_whatever_the_body(make, capsys):
    def app(environ, start_response):
        start_response("200 OK", [])
        return make()

    capsys.readouterr()
    sent = RequestLog(app)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
    data = b"".join(sent)
    sent.close()
    (line,) = log_lines(capsys)
    assert data == b"".join(make())
    assert line["bytes"] == len(data)


def test_a_file_goes_to_the_server_unwrapped_and_is_logged_with_its_length(capsys):
    """PEP 3333's file_wrapper: the server may send the file its own way, so it gets it."""

    class FileWrapper:
        def __init__(self, file, block_size=8192):
            self.file = file

    content = b"x" * 5000

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(content)))])
        return environ["wsgi.file_wrapper"](io.BytesIO(content))

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a.js", "wsgi.file_wrapper": FileWrapper}
    capsys.readouterr()
    body = RequestLog(app)(environ, lambda status, headers, exc_info=None: None)
    assert type(body) is FileWrapper
    assert body.file.getvalue() == content
    (line,) = log_lines(capsys)
    assert (line["path"], line["status"], line["bytes"]) == ("/a.js", 200, 5000)
