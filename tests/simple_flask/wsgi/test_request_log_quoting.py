"""Access-log lines stay valid JSON whatever the method, path and client hold."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from simple_flask.wsgi.access_line import (
    MAX_LOGGED_METHOD,
    MAX_LOGGED_PATH,
    access_line,
    logged_method,
    logged_path,
)

# WSGI hands paths over as latin-1 text; methods and addresses are short text.
# Short enough that nothing is cut: the cuts are tested below.
latin1 = st.text(st.characters(max_codepoint=0xFF), max_size=200)


@settings(max_examples=300)
@given(method=latin1, path_info=latin1, client=st.none() | latin1.map(lambda text: text[:40]))
def test_every_line_is_json_and_round_trips(method, path_info, client):
    path = logged_path("", path_info)
    line = access_line(1e9, method, path, 200, 0.5, 3, client, "abc")
    assert line.endswith("}\n") and line.count("\n") == 1
    fields = json.loads(line)
    assert (fields["method"], fields["path"], fields["client"]) == (
        logged_method(method),
        path,
        client,
    )


# The characters JSON writes longest: a control character (\u0001) and one
# outside the BMP (a surrogate pair, \ud83d\ude00).
WIDE = st.sampled_from(["\x01", "\U0001f600", "a", '"'])


@settings(max_examples=100)
@given(
    method=st.text(WIDE, min_size=0, max_size=5000),
    path=st.text(WIDE, min_size=0, max_size=5000),
    client=st.none() | st.text(WIDE, max_size=5000),
)
def test_one_line_stays_under_3_kib_whatever_the_request(method, path, client):
    line = access_line(1e9, method, logged_path("", path), 200, 0.5, 3, client, "f" * 128)
    assert len(line.encode()) < 3 * 1024
    fields = json.loads(line)
    assert fields["method"] == logged_method(method)
    # The path is whole, or cut where its JSON text would grow too long.
    assert fields["path"] == logged_path("", path) or fields["path"].endswith("...")


def test_a_long_method_and_path_are_cut_with_an_ellipsis():
    line = access_line(
        0.0, "M" * 250_000, logged_path("", "/" + "p" * 250_000), 405, 0.0, 0, None, "a"
    )
    fields = json.loads(line)
    assert fields["method"] == "M" * MAX_LOGGED_METHOD + "..."
    assert fields["path"] == "/" + "p" * (MAX_LOGGED_PATH - 1) + "..."
    assert len(line) < 1300


@given(path=st.text())
def test_any_text_round_trips(path):
    assert json.loads(access_line(0.0, "GET", path, 200, 0.0, 0, None, "a"))["path"] == path


def test_plain_ascii_is_written_as_it_is_and_the_rest_escaped():
    line = access_line(0.0, "GET", "/Kalimaha/", 200, 0.0, 0, "127.0.0.1", "a")
    assert '"path":"/Kalimaha/"' in line and '"client":"127.0.0.1"' in line
    escaped = access_line(0.0, 'G"T', '/a"b\\c\x7f\x00', 200, 0.0, 0, None, "a")
    assert '"method":"G\\"T"' in escaped and '"client":null' in escaped
    assert json.loads(escaped)["path"] == '/a"b\\c\x7f\x00'
