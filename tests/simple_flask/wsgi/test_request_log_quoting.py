"""Access-log lines stay valid JSON whatever the method, path and client hold."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from simple_flask.wsgi.request_log import access_line, logged_path

# WSGI hands paths over as latin-1 text; methods and addresses are short text.
latin1 = st.text(st.characters(max_codepoint=0xFF))


@settings(max_examples=300)
@given(method=latin1, path_info=latin1, client=st.none() | latin1)
def test_every_line_is_json_and_round_trips(method, path_info, client):
    path = logged_path("", path_info)
    line = access_line(1e9, method, path, 200, 0.5, 3, client, "abc")
    assert line.endswith("}\n") and line.count("\n") == 1
    fields = json.loads(line)
    assert (fields["method"], fields["path"], fields["client"]) == (method, path, client)


@given(path=st.text())
def test_any_text_round_trips(path):
    assert json.loads(access_line(0.0, "GET", path, 200, 0.0, 0, None, "a"))["path"] == path


def test_plain_ascii_is_written_as_it_is_and_the_rest_escaped():
    line = access_line(0.0, "GET", "/Kalimaha/", 200, 0.0, 0, "127.0.0.1", "a")
    assert '"path":"/Kalimaha/"' in line and '"client":"127.0.0.1"' in line
    escaped = access_line(0.0, 'G"T', '/a"b\\c\x7f\x00', 200, 0.0, 0, None, "a")
    assert '"method":"G\\"T"' in escaped and '"client":null' in escaped
    assert json.loads(escaped)["path"] == '/a"b\\c\x7f\x00'
