"""The `simple-flask` command line: flags over the environment, loopback by default, no debug."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from simple_flask.core.settings import Settings, SettingsError
from simple_flask.server.cli import main, settings_from_options
from tests.support import ROOT, SERVE, running_server

FLAG_VALUES = [
    ("host", "::1", "::1"),
    ("port", "9001", 9001),
    ("threads", "2", 2),
    ("connection_limit", "100", 100),
    ("idle_timeout", "7", 7),
    ("max_request_body", "10", 10),
    ("log_level", "error", "ERROR"),
    ("access_log", "off", False),
    ("cors_origins", "https://a.example", ("https://a.example",)),
    ("shutdown_grace", "1.5", 1.5),
    ("max_sleep_ms", "50", 50),
    ("trusted_proxy", "10.0.0.2", "10.0.0.2"),
]


def no_options() -> dict[str, None]:
    return {field: None for field in Settings.variables()}


@pytest.mark.parametrize(("field", "text", "value"), FLAG_VALUES)
def test_each_flag_wins_over_its_variable(field, text, value):
    variable = Settings.variables()[field][0]
    other = {"HOST": "127.0.0.2", "PORT": "1", "SIMPLE_FLASK_LOG_LEVEL": "DEBUG"}
    environment = {**other, variable: _other_value(field)}
    settings = settings_from_options({**no_options(), field: text}, environ=environment)
    assert getattr(settings, field) == value


def _other_value(field: str) -> str:
    """A valid environment value for `field` that differs from the flag's."""
    return {
        "host": "127.0.0.3",
        "port": "9999",
        "threads": "9",
        "connection_limit": "99",
        "idle_timeout": "99",
        "max_request_body": "99",
        "log_level": "INFO",
        "access_log": "on",
        "cors_origins": "*",
        "shutdown_grace": "9",
        "max_sleep_ms": "99",
        "trusted_proxy": "10.9.9.9",
    }[field]


def test_the_environment_counts_when_no_flag_is_given():
    settings = settings_from_options(no_options(), environ={"PORT": "9002", "HOST": "::"})
    assert (settings.port, settings.host) == (9002, "::")


def test_serve_listens_on_loopback_unless_told_otherwise():
    assert settings_from_options(no_options(), environ={}).host == "127.0.0.1"


def test_a_bad_flag_is_named_as_a_flag():
    with pytest.raises(SettingsError, match=r"^--threads='0' is not allowed: expected an integer"):
        settings_from_options({**no_options(), "threads": "0"}, environ={})


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "70000"], "--port='70000'"),
        (["--threads", "0"], "--threads='0'"),
        (["--log-level", "chatty"], "--log-level='chatty'"),
        (["--shutdown-grace", "forever"], "--shutdown-grace='forever'"),
    ],
)
def test_serve_with_a_bad_flag_exits_2_with_one_line(args, named):
    result = CliRunner().invoke(main, ["serve", *args], env={"HOST": None})
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"simple-flask: {named} is not allowed: expected ")


def test_serve_with_a_bad_environment_exits_2_with_one_line():
    result = CliRunner().invoke(main, ["serve"], env={"PORT": "abc"})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "simple-flask: PORT='abc' is not allowed: expected an integer from 1 to 65535"
    ]


def test_there_is_no_debug_switch():
    result = CliRunner().invoke(main, ["serve", "--debug"])
    assert result.exit_code == 2
    assert "No such option '--debug'" in result.stderr


def test_help_lists_every_setting_with_its_variable():
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for field, (variable, _) in Settings.variables().items():
        assert "--" + field.replace("_", "-") in result.output
        assert f"env: {variable}" in result.output


def test_top_level_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert "serve" in result.output and "healthcheck" in result.output


def test_the_app_built_for_serving_is_never_in_debug_mode(monkeypatch):
    from simple_flask.server.serving import build_app

    monkeypatch.setenv("FLASK_DEBUG", "1")
    from flask import Flask

    assert Flask("probe").debug, "FLASK_DEBUG=1 should turn debug on for a plain app"
    assert build_app(Settings()).debug is False


@pytest.mark.slow
def test_flask_debug_in_the_environment_does_not_reach_the_server():
    # The Werkzeug debugger answers this with its stylesheet; the app does not know it.
    probe = "/?__debugger__=yes&cmd=resource&f=style.css"
    with running_server(env={"FLASK_DEBUG": "1", "WERKZEUG_DEBUG_PIN": "off"}) as server:
        response, body = server.request("GET", probe)
        assert response.status == 200 and body == b"Hallo from CORE!"
        response, body = server.request("GET", "/no/such/page")
        assert response.getheader("Content-Type") == "application/problem+json"
        assert b"Traceback" not in body and b"Werkzeug" not in body


@pytest.mark.slow
def test_serve_flags_override_the_environment_on_a_real_server():
    command = [*SERVE, "--max-request-body", "10", "--access-log", "off"]
    env = {"SIMPLE_FLASK_MAX_REQUEST_BODY": "1000000", "SIMPLE_FLASK_ACCESS_LOG": "on"}
    with running_server(command=command, env=env) as server:
        response, _ = server.request("POST", "/status/200", body=b"x" * 11)
        assert response.status == 413
        response, _ = server.request("POST", "/status/200", body=b"x" * 10)
        assert response.status == 200
    assert server.output()[0] == ""


@pytest.mark.slow
def test_serve_says_where_it_listens():
    # No HOST in its environment at all.
    command = [
        "env",
        "-u",
        "HOST",
        sys.executable,
        "-m",
        "simple_flask",
        "serve",
        "--port",
        "{port}",
    ]
    with running_server(command=command) as server:
        pass
    line = next(line for line in server.output()[1].splitlines() if "Serving on" in line)
    assert f"Serving on http://127.0.0.1:{server.port} (" in line
    # Where a person finds the API's page.
    assert line.endswith(f", API docs at http://127.0.0.1:{server.port}/docs")


@pytest.mark.slow
def test_version():
    from simple_flask import __version__

    result = subprocess.run(
        [sys.executable, "-m", "simple_flask", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().endswith(__version__)


def test_help_shows_the_defaults_settings_hold():
    """--help takes each default from Settings, so the two cannot disagree."""
    from simple_flask.server.cli import shown_default

    text = " ".join(CliRunner().invoke(main, ["serve", "--help"]).output.split())
    assert f"[default: {Settings().port}; env: PORT;" in text
    assert f"[default: {Settings().max_request_body}; env: SIMPLE_FLASK_MAX_REQUEST_BODY;" in text
    assert "[default: 127.0.0.1; env: HOST;" in text
    assert shown_default("trusted_proxy") == "none"
    assert shown_default("access_log") == "on"
    assert shown_default("shutdown_grace") == "10"
