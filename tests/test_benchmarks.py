"""The benchmark suite runs end to end and writes a well-formed table, JSON and plot.

These tests check that the suite works, never how fast anything is.
"""

import json
import re
import struct

import pytest

from benchmarks.load import parse
from benchmarks.sizes import closure
from benchmarks.summary import targets
from benchmarks.targets import TARGETS
from simple_flask.core.settings import Settings
from simple_flask.server.serving import waitress_options
from tests.pages import page
from tests.support import ROOT, goal_met, require_programs, run_module


def test_wrk_figures_are_read_from_the_scripts_line():
    output = (
        "Running 1s test @ http://127.0.0.1:1/\n"
        'BENCH {"requests": 3000, "duration_us": 1500000, "connect": 0, "read": 1,'
        ' "write": 0, "status": 3000, "timeout": 2, "p50_us": 1250, "p90_us": 2000,'
        ' "p99_us": 7500, "max_us": 9000}\n'
        "Requests/sec: 2000.00\n"
    )
    load = parse(output)
    assert load.requests == 3000
    assert load.rps == 2000.0
    assert (load.p50_ms, load.p99_ms) == (1.25, 7.5)
    assert load.non_2xx == 3000
    assert load.socket_errors == 3


def test_wrk_output_without_figures_is_an_error():
    with pytest.raises(RuntimeError, match="no figures"):
        parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_the_size_of_the_service_counts_its_whole_run_time_closure():
    names = {dist.metadata["Name"].lower() for dist in closure(("simple-flask",))}
    assert {"simple-flask", "flask", "werkzeug", "flask-cors", "waitress"} <= names
    # Test-only tools are not part of what the service needs to run.
    assert "pytest" not in names


def test_a_target_is_met_when_its_figure_meets_its_goal():
    def load(route, connections, answered, **ratios):
        entry = {"server": "service", "route": route, "connections": connections}
        return {**entry, "answered": answered, **ratios}

    loads = [
        load("/Kalimaha/", 8, 200, rps_ratio=0.95),
        load("/Kalimaha/", 64, 200, rps_ratio=0.85, p99_ratio=1.25),
        load("/status/418", 8, 418, rps_ratio=1.5),
        # Fast, but with the wrong status: it measured something else.
        load("/status/418", 64, 200, rps_ratio=1.5),
    ]
    # No cold start was measured: that target is neither met nor missed.
    servers = {"service": {"rss_growth_mib": 2.0}}
    met = {check["target"]: check["met"] for check in targets(loads, servers)}
    assert met == {
        "GET /Kalimaha/ rps at 8 connections, x minimal Flask": True,
        "GET /Kalimaha/ rps at 64 connections, x minimal Flask": False,
        "GET /status/418 rps at 8 connections, x httpbin": True,
        "GET /status/418 rps at 64 connections, x httpbin": False,
        # The bounds themselves: "<= 1.25" holds at 1.25, "< 2" does not at 2.
        "GET /Kalimaha/ p99 latency at 64 connections, x minimal Flask": True,
        "cold start to first answer, x minimal Flask": None,
        "RSS growth from 1/3 to 3/3 of the requests, MiB": False,
    }


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_the_smoke_run_measures_every_server(tmp_path):
    require_programs("wrk", install="apt-get install wrk")
    result = run_module("benchmarks", "--smoke", "--out", str(tmp_path), timeout=280)

    summary = json.loads((tmp_path / "benchmarks.json").read_text())
    names = [target.name for target in TARGETS]
    assert set(summary["servers"]) == set(names)
    for name, server in summary["servers"].items():
        assert server["failed"] is None, name
        assert server["cold_start_ms"] > 0
        assert server["memory_samples"][0]["requests"] == 0
        assert server["memory_samples"][-1]["requests"] >= 3000
        assert all(sample["rss_kib"] > 0 for sample in server["memory_samples"])
        assert server["installed_bytes"] > 0
    # Each server was loaded on each of its routes, and answered as expected.
    loaded = {(entry["server"], entry["route"]) for entry in summary["loads"]}
    assert loaded == {(t.name, route) for t in TARGETS for route in t.routes}
    for entry in summary["loads"]:
        assert entry["rps"] > 0
        assert entry["socket_errors"] == 0
        expected = (
            200 if entry["server"] == "bare" else {"/Kalimaha/": 200}.get(entry["route"], 418)
        )
        assert entry["answered"] == expected, entry
        assert (entry["non_2xx"] > 0) == (expected >= 400), entry
        if entry["baseline"]:
            assert entry["rps_ratio"] > 0
    for check in summary["targets"]:
        # A smoke run loads 8 connections only: the targets at 64 go unmeasured.
        assert (check["measured"] is None) == ("64 connections" in check["target"]), check
        assert check["met"] is goal_met(check["measured"], check["goal"]), check
    # Every server ran on the service's own production waitress options.
    production = waitress_options(Settings())
    assert summary["meta"]["waitress"] == {
        key: value for key, value in production.items() if key not in ("host", "port")
    }
    assert summary["meta"]["versions"]["httpbin"]

    # The table went to stdout and to a file.
    for target in TARGETS:
        assert f"| {target.label} |" in result.stdout
    assert "| target | measured | goal | met |" in result.stdout
    assert (tmp_path / "benchmarks.md").read_text().startswith("| route | server |")

    width, height = _png_size((tmp_path / "benchmarks.png").read_bytes())
    assert width > 600 and height > 300

    # An earlier run's JSON renders to the same table, without measuring.
    again = ["--out", str(tmp_path / "again")]
    earlier = str(tmp_path / "benchmarks.json")
    rendered = run_module("benchmarks", "--render", earlier, *again, timeout=120)
    assert rendered.stdout == result.stdout
    assert (tmp_path / "again" / "benchmarks.png").stat().st_size > 0


def test_the_docs_show_the_committed_run():
    committed = ROOT / "docs" / "benchmarks"
    shown_page = page("docs/benchmarks.md")
    shown = shown_page.split("<!-- benchmarks-table -->\n", 1)[1]
    shown = shown.split("\n<!-- /benchmarks-table -->")[0]
    assert shown == (committed / "benchmarks.md").read_text().strip()
    # docs/benchmarks.md links the plot relative to docs/.
    assert "](benchmarks/benchmarks.png)" in shown_page
    _png_size((committed / "benchmarks.png").read_bytes())
    summary = json.loads((committed / "benchmarks.json").read_text())
    # Every server of the committed run is still benchmarked; a target added
    # since (the Redis store) shows in the next committed run.
    assert set(summary["servers"]) <= {target.name for target in TARGETS}


def test_profile_summary_counts_inclusive_and_own_samples(tmp_path):
    from benchmarks.profile import _share

    stacks = tmp_path / "stacks.txt"
    stacks.write_text("main (a.py:1);app (b.py:2);cors (c.py:3) 3\nmain (a.py:1);app (b.py:9) 1\n")
    summary = _share(stacks, 10)
    assert summary.startswith("4 samples")
    inclusive, own = summary.split("own:")
    assert "100.0%  app (b.py)" in inclusive
    assert " 75.0%  cors (c.py)" in own
    assert " 25.0%  app (b.py)" in own


@pytest.mark.slow
def test_the_in_process_profile_times_each_app():
    result = run_module("benchmarks.profile", "--in-process", "--requests", "200", timeout=120)
    for app in ("bare /Kalimaha/", "flask /Kalimaha/", "service /Kalimaha/", "service /status/418"):
        assert re.search(rf"^\s*[0-9.]+ us per request  {app}$", result.stdout, re.M), app
    assert "cProfile of the service" in result.stdout
