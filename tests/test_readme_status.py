"""The status-service examples of docs/status-service.md and the README match the service."""

import json
import re
import shlex

import pytest

from tests.pages import page, section

# The full reference, and the README's short one.
PAGE = page("docs/status-service.md")
README_SECTION = section("README.md", "The status-code service")
BASE = "http://127.0.0.1:8080"


def examples(text: str = PAGE) -> list[tuple[str, list[str]]]:
    """Return each curl command of the text's example block with the lines shown under it."""
    block = re.search(r"<!-- status-examples -->\n```sh\n(.*?)```", text, re.S).group(1)
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("curl "):
            found.append((line, []))
        else:
            assert line == "#" or line.startswith("# "), line
            found[-1][1].append(line[2:])
    return found


def status_line_matches(shown: str, status: str) -> bool:
    """Tell whether the README's status line `shown` is the one the service sends."""
    code = status.split(" ", 1)[0]
    # Python 3.13 took RFC 9110's names for these four codes, so the phrase the
    # service sends depends on the Python it runs on; the code must still match.
    if code in ("413", "414", "416", "422"):
        return shown.startswith(f"HTTP/1.1 {code} ")
    return shown == f"HTTP/1.1 {status}"


def send(client, command: str):
    """Send what `command` would send, through the test client; return the response."""
    words = shlex.split(command)[1:]
    method, headers, follow, url = "GET", {"Accept": "*/*"}, False, None
    while words:
        word = words.pop(0)
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, value = words.pop(0).split(": ", 1)
            headers[name] = value
        elif word == "-I":
            method = "HEAD"
        elif word == "-L":
            follow = True
        elif word == "-i":
            pass
        else:
            assert word.startswith(BASE) and url is None, f"unexpected {word!r} in {command}"
            url = word
    return client.open(url[len(BASE) :], method=method, headers=headers, follow_redirects=follow)


def test_the_docs_have_an_example_of_each_feature():
    commands = " ".join(command for command, _ in examples())
    for feature in ("Accept: application/json", "-X POST", "-L", "-I", "?location=", "?seed="):
        assert feature in commands
    for feature in ("?sleep=", "/status/100", "/status/299", "/status/ "):
        assert feature in commands + " "
    assert len(examples()) >= 15


EVERY_EXAMPLE = [
    pytest.param(command, shown, id=f"{where}: {command}")
    for where, text in (("docs", PAGE), ("README", README_SECTION))
    for command, shown in examples(text)
]


@pytest.mark.parametrize(("command", "shown"), EVERY_EXAMPLE)
def test_each_example_shows_what_the_service_answers(client, command, shown):
    response = send(client, command)
    if not shown:
        # A random pick: only its refusal would be wrong.
        assert response.status_code != 400
        return
    body_lines = shown
    if shown[0].startswith("HTTP/1.1 "):
        assert status_line_matches(shown[0], response.status), (shown[0], response.status)
        end = shown.index("") if "" in shown else len(shown)
        for header in shown[1:end]:
            name, value = header.split(": ", 1)
            assert response.headers.get(name) == value, header
        body_lines = shown[end + 1 :]
    if not body_lines:
        return
    body, data = "\n".join(body_lines), response.get_data(as_text=True)
    if "..." in body:
        # An elided listing: what it shows must be how the real one starts.
        assert data.startswith(body.split("...", 1)[0].rstrip(" ,"))
    elif body.startswith(("{", "[")):
        assert json.loads(body) == json.loads(data)
    else:
        assert body == data


def test_the_docs_name_the_headers_browsers_may_read():
    from simple_flask.core.status_headers import EXPOSED_HEADERS

    for name in EXPOSED_HEADERS:
        assert f"`{name}" in PAGE, name


def test_the_docs_explain_407_and_426():
    assert "PEP 3333" in PAGE
    assert "Proxy-Authenticate" in PAGE and "Upgrade" in PAGE
    assert "waitress answers 500" in PAGE


def test_the_readme_points_to_the_full_reference():
    assert "](docs/status-service.md)" in README_SECTION
