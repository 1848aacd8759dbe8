"""Settings: read from the environment in one place, validated, documented in the README."""

import dataclasses
import re
import subprocess
import sys

import pytest

from simple_flask.core.settings import Settings, SettingsError
from tests.pages import block_after, section
from tests.support import ROOT

VALID = [
    ("HOST", "127.0.0.1", "host", "127.0.0.1"),
    ("HOST", "[::1]", "host", "::1"),
    ("HOST", "localhost", "host", "localhost"),
    ("PORT", "9000", "port", 9000),
    ("SIMPLE_FLASK_THREADS", "16", "threads", 16),
    ("SIMPLE_FLASK_CONNECTION_LIMIT", "20000", "connection_limit", 20000),
    ("SIMPLE_FLASK_IDLE_TIMEOUT", "5", "idle_timeout", 5),
    ("SIMPLE_FLASK_MAX_REQUEST_BODY", "0", "max_request_body", 0),
    ("SIMPLE_FLASK_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("SIMPLE_FLASK_ACCESS_LOG", "off", "access_log", False),
    ("SIMPLE_FLASK_ACCESS_LOG", "Yes", "access_log", True),
    ("SIMPLE_FLASK_CORS_ORIGINS", "https://a.example, http://b.example:81/", "cors_origins",
     ("https://a.example", "http://b.example:81")),
    ("SIMPLE_FLASK_SHUTDOWN_GRACE", "2.5", "shutdown_grace", 2.5),
    ("SIMPLE_FLASK_SHUTDOWN_GRACE", "0", "shutdown_grace", 0.0),
    ("SIMPLE_FLASK_MAX_SLEEP_MS", "600000", "max_sleep_ms", 600_000),
    ("SIMPLE_FLASK_TRUSTED_PROXY", "10.0.0.1", "trusted_proxy", "10.0.0.1"),
    ("SIMPLE_FLASK_TRUSTED_PROXY", "*", "trusted_proxy", "*"),
    ("SIMPLE_FLASK_TRUSTED_PROXY", "", "trusted_proxy", None),
]  # fmt: skip

INVALID = [
    ("PORT", "abc"),
    ("PORT", "70000"),
    ("PORT", "0"),
    ("PORT", "-1"),
    ("PORT", ""),
    ("PORT", "80.5"),
    ("HOST", "bad host"),
    ("HOST", ""),
    ("HOST", "1.2.3"),
    ("SIMPLE_FLASK_THREADS", "0"),
    ("SIMPLE_FLASK_THREADS", "257"),
    ("SIMPLE_FLASK_CONNECTION_LIMIT", "5"),
    ("SIMPLE_FLASK_IDLE_TIMEOUT", "0"),
    ("SIMPLE_FLASK_MAX_REQUEST_BODY", "1GB"),
    ("SIMPLE_FLASK_LOG_LEVEL", "verbose"),
    ("SIMPLE_FLASK_ACCESS_LOG", "maybe"),
    ("SIMPLE_FLASK_CORS_ORIGINS", "ftp://x.example"),
    ("SIMPLE_FLASK_SHUTDOWN_GRACE", "nan"),
    ("SIMPLE_FLASK_SHUTDOWN_GRACE", "1e3"),
    ("SIMPLE_FLASK_SHUTDOWN_GRACE", "301"),
    ("SIMPLE_FLASK_SHUTDOWN_GRACE", "-1"),
    ("SIMPLE_FLASK_MAX_SLEEP_MS", "600001"),
    ("SIMPLE_FLASK_TRUSTED_PROXY", "proxy.example"),
]


@pytest.mark.parametrize(("variable", "raw", "field", "value"), VALID)
def test_each_variable_is_read(variable, raw, field, value):
    assert getattr(Settings.from_env({variable: raw}), field) == value


@pytest.mark.parametrize(("variable", "raw"), INVALID)
def test_a_bad_value_names_the_variable_the_value_and_what_is_allowed(variable, raw):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: raw})
    message = str(caught.value)
    assert message.startswith(f"{variable}={raw!r} is not allowed: expected ")
    # What is allowed, as the README's table says it.
    allowed = configuration_rows()[variable][2]
    assert message.endswith(allowed)
    assert "\n" not in message
    assert (caught.value.variable, caught.value.value) == (variable, raw)


def test_the_allowed_text_comes_from_the_variable_table():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SIMPLE_FLASK_THREADS": "0"})
    assert caught.value.allowed == Settings.variables()["threads"][1] == "an integer from 1 to 256"


def test_a_hostile_value_stays_on_one_short_line():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PORT": "80\n\x1b[31m" + "9" * 500})
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    assert len(message) < 250


def test_overrides_win_over_the_environment_and_none_is_ignored():
    settings = Settings.from_env(
        {"PORT": "9000", "SIMPLE_FLASK_THREADS": "3"}, port=9100, threads=None
    )
    assert (settings.port, settings.threads) == (9100, 3)


def test_overrides_are_validated_like_the_environment():
    with pytest.raises(SettingsError, match=r"^PORT='70000' is not allowed"):
        Settings.from_env({}, port=70000)
    assert Settings.from_env({}, cors_origins=("https://a.example",)).cors_origins == (
        "https://a.example",
    )
    assert Settings.from_env({}, access_log=False).access_log is False


def test_an_unknown_override_is_a_programming_error():
    with pytest.raises(TypeError, match="debug"):
        Settings.from_env({}, debug=True)


def test_parse_names_what_the_caller_asks():
    with pytest.raises(SettingsError, match=r"^--port='x' is not allowed"):
        Settings.parse("port", "x", name="--port")


def test_every_field_has_a_variable():
    assert list(Settings.variables()) == [field.name for field in dataclasses.fields(Settings)]


# --- the README's table ---------------------------------------------------------------------------


# Pages whose Configuration tables, read in this order, list every setting.
CONFIGURATION_PAGES = ("README.md",)


def configuration_rows() -> dict[str, list[str]]:
    """The configuration tables of the README and docs pages: variable -> its cells."""
    rows = {}
    text = "".join(section(name, "Configuration") for name in CONFIGURATION_PAGES)
    for line in text.splitlines():
        match = re.match(r"\| `([A-Z_]+)` \|", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


def test_the_readme_table_lists_every_variable_with_its_range():
    rows = configuration_rows()
    variables = {variable: allowed for variable, allowed in Settings.variables().values()}
    assert list(rows) == list(variables)
    for variable, cells in rows.items():
        assert cells[2] == variables[variable], variable


def documented_defaults() -> dict[str, object]:
    """Each field's default as the README's table gives it, parsed as its variable would be."""
    rows = configuration_rows()
    defaults = {}
    for field, (variable, _) in Settings.variables().items():
        cell = rows[variable][1]
        shown = re.match(r"`([^`]*)`", cell)
        if shown is None:
            assert cell == "unset", variable
            defaults[field] = None
        else:
            defaults[field] = Settings.parse(field, shown.group(1))
    return defaults


def test_an_empty_environment_gives_the_defaults_the_readme_documents():
    read = Settings.from_env({})
    assert dataclasses.asdict(read) == documented_defaults()
    # The dataclass's own defaults are those the environment falls back on.
    assert Settings() == read


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("SIMPLE_FLASK_THREADS", "0"),
        ("SIMPLE_FLASK_LOG_LEVEL", "loud"),
        ("HOST", "not a host"),
    ],
)
def test_start_py_refuses_bad_config_with_status_2_and_one_line(variable, raw):
    result = subprocess.run(
        [sys.executable, "start.py"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", variable: raw},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"simple-flask: {variable}={raw!r} is not allowed: expected ")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_readme_bad_config_example_is_what_happens():
    lines = block_after("bad-config-example", "docs/operations.md").splitlines()
    assignment, command = lines[0].split(" ", 1)
    variable, value = assignment.split("=")
    words = command.split()
    if words[0] == ".venv/bin/python" and not (ROOT / ".venv").exists():
        # The README's environment is not made here: this interpreter stands in for it.
        words[0] = sys.executable
    result = subprocess.run(
        words,
        cwd=ROOT,
        env={
            "PATH": f"{ROOT / '.venv' / 'bin'}:{sys.executable.rsplit('/', 1)[0]}",
            variable: value,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert lines[1] == "# " + result.stderr.strip()
    assert lines[3] == f"# {result.returncode}"


# --- the sequence store's settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "memory://",
        "redis://127.0.0.1:6379/0",
        "redis://redis.internal",
        "rediss://user:p%40ss@redis.example:6380/3",
        "redis://[::1]:6379",
    ],
)
def test_state_urls_that_are_allowed(url):
    assert Settings.from_env({"SIMPLE_FLASK_STATE_URL": url}).state_url == url


def test_an_empty_state_url_is_memory():
    assert Settings.from_env({"SIMPLE_FLASK_STATE_URL": ""}).state_url == "memory://"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "redis://",
        "redis://:hunter2secret@",
        "redis://:hunter2secret@127.0.0.1:0/0",
        "redis://:hunter2secret@127.0.0.1:99999/0",
        "redis://:hunter2secret@127.0.0.1/zero",
        "redis://:hunter2secret@127.0.0.1/0?ssl=1",
        "redis://:hunter2secret@bad host/0",
        "redis://:hunter2:secret@@127.0.0.1/0#x",
    ],
)
def test_a_bad_state_url_is_refused_without_its_password(url):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"SIMPLE_FLASK_STATE_URL": url})
    message = str(raised.value)
    assert "SIMPLE_FLASK_STATE_URL" in message
    assert "hunter2" not in message and "secret" not in message
    assert "\n" not in message


def test_the_state_url_is_left_out_of_the_settings_repr():
    settings = Settings(state_url="redis://:hunter2secret@127.0.0.1/0")
    assert "hunter2secret" not in repr(settings)


def test_redact_url_hides_the_user_and_password():
    from simple_flask.core.settings import redact_url

    assert redact_url("redis://u:p@h:1/0") == "redis://***@h:1/0"
    assert redact_url("redis://:p@ss@h") == "redis://***@h"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"
    assert redact_url("memory://") == "memory://"


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("SIMPLE_FLASK_SEQUENCE_TTL", "0"), ("SIMPLE_FLASK_MAX_SEQUENCES", "many")],
)
def test_sequence_bounds_are_checked(variable, raw):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: raw})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # Credentials set apart by "@": replaced, the rest shown.
        ("redis://:hunter2@127.0.0.1:99999/0", "redis://***@127.0.0.1:99999/0"),
        # A password typed where no "@" sets it apart: nothing but the scheme.
        ("redis://:hunter2:127.0.0.1:6379", "redis://... (the rest not shown"),
        ("redis:/:hunter2@host", "... (not shown"),
        ("hunter2", "... (not shown"),
    ],
)
def test_a_bad_state_url_is_never_shown_with_its_secret(url, shown):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"SIMPLE_FLASK_STATE_URL": url})
    message = str(raised.value)
    assert "hunter2" not in message and shown in message
    assert message.startswith("SIMPLE_FLASK_STATE_URL=")


@pytest.mark.parametrize("prefix", ["", "a b", "x" * 65, "é", "a/b"])
def test_a_state_prefix_is_a_short_plain_name(prefix):
    with pytest.raises(SettingsError, match="SIMPLE_FLASK_STATE_PREFIX"):
        Settings.from_env({"SIMPLE_FLASK_STATE_PREFIX": prefix})
    assert Settings.from_env({"SIMPLE_FLASK_STATE_PREFIX": "team-a:ci"}).state_prefix == "team-a:ci"
