"""deploy/rehearse/: its parts on their own, and `python -m deploy.rehearse --json` for real.

The real run starts Debian's nginx and redis-server and three replicas on
loopback, rolls and kills replicas under load, and is read once for every
test of its report (under half a minute on two busy cores). Without nginx or
redis-server those tests skip, and under CI=true they fail.
"""

import ipaddress
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from deploy.rehearse import nginx, programs
from deploy.rehearse.load import (
    KILL,
    MAX_THREADS,
    PHASES,
    ROLLING,
    STEADY,
    WORK_MS,
    Load,
    Outcome,
    Walk,
    client_addresses,
)
from deploy.rehearse.replicas import READY_PATH
from deploy.rehearse.report import format_report, percentile, summarize
from tests.support import LOOPBACK, ROOT, skip_or_fail

# The rehearsal's own bounds add up to well under this; past it, it is stopped.
RUN_TIMEOUT = 150
# The addresses of a made-up load of two client threads and the walker.
CLIENT, OTHER, WALKER = "127.0.0.2", "127.0.0.3", "127.0.0.4"


# --- its parts -----------------------------------------------------------------------------------


def test_the_site_is_rendered_for_every_replica_and_the_listen_address():
    site = nginx.render_site(["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"], "127.0.0.1:9")
    upstream = re.search(r"upstream simple_flask \{(.*?)\n\}", site, re.S).group(1)
    # Each replica's line keeps the shipped line's parameters: none is ever
    # marked down for a failed attempt.
    assert re.findall(r"^\s*server (\S+) max_fails=0;$", upstream, re.M) == [
        "127.0.0.1:1001",
        "127.0.0.1:1002",
        "127.0.0.1:1003",
    ]
    assert len(re.findall(r"^\s*server ", upstream, re.M)) == 3
    assert re.findall(r"^\s*listen (\S+);$", site, re.M) == ["127.0.0.1:9"]
    # Everything else is the shipped file, unchanged.
    shipped = nginx.NGINX_SITE.read_text()
    assert "proxy_next_upstream error timeout;" in site
    assert len(site.splitlines()) == len(shipped.splitlines()) + 2


def test_a_site_without_the_lines_to_replace_is_refused(tmp_path, monkeypatch):
    changed = tmp_path / "simple_flask.conf"
    changed.write_text(nginx.NGINX_SITE.read_text().replace("listen 80;", "listen 8080;"))
    monkeypatch.setattr(nginx, "NGINX_SITE", changed)
    with pytest.raises(ValueError, match="listen 80"):
        nginx.render_site(["127.0.0.1:1"], "127.0.0.1:2")


def test_nginx_keeps_its_files_in_the_prefix(tmp_path):
    text = nginx.render_main(tmp_path, tmp_path / "site.conf")
    paths = re.findall(r"(?:pid|error_log|access_log|_temp_path|include) (/\S+?)[ ;]", text)
    assert len(paths) == 9
    assert all(Path(path).is_relative_to(tmp_path) for path in paths)
    assert "daemon off;" in text


def test_missing_programs_are_named_with_their_package(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(programs, "SBIN", "")
    assert programs.missing_programs() == [
        "nginx is not installed (Debian: apt-get install nginx)",
        "redis-server is not installed (Debian: apt-get install redis-server)",
    ]


@pytest.mark.parametrize(("fraction", "expected"), [(0.5, 50), (0.99, 99), (1.0, 100), (0.001, 1)])
def test_percentile_is_the_nearest_rank(fraction, expected):
    assert percentile(list(range(100, 0, -1)), fraction) == expected


def synthetic_report(
    failed_get_phase: str | None,
    *logged: dict[str, int],
    skipped_in: str | None = None,
    limited: dict[str, int] | None = None,
) -> dict:
    """summarize() over a made-up load of two client threads and the walker: one GET and one
    POST per phase, one GET failed if asked, and one walk per phase across two replicas, the
    one in `skipped_in` skipping an attempt; `logged`: the addresses each replica logged."""
    load = Load(port=1, threads=2)
    for phase in PHASES:
        answers = [(503, "1"), (503, "2"), (502, "3"), (200, "4"), (200, "5")]
        if phase == skipped_in:
            answers[1:] = [(503, "3"), (200, "4"), (200, "5"), (200, "6")]
        load.walks.append(Walk(phase, {phase}, answers, [], {1, 2}))
        for method in ("GET", "POST"):
            ok = not (method == "GET" and phase == failed_get_phase)
            load.outcomes.append(Outcome(1.0, phase, method, ok, 0.01, "200" if ok else "502"))
    topology = {
        "nginx": "1.22.1",
        "redis-server": "7.0.15",
        "replicas": 3,
        "client_threads": 2,
        "client_addresses": load.addresses,
        "readiness_path": READY_PATH,
        "work_ms": WORK_MS,
    }
    by_replica = {number: Counter(found) for number, found in enumerate(logged, 1)}
    return summarize(load, [], by_replica, {}, limited or {}, topology, 12.0)


# Two replicas that logged every client of the made-up load.
EVERY_CLIENT = ({CLIENT: 3, WALKER: 1}, {OTHER: 2, WALKER: 1})


def test_each_client_thread_and_the_walker_have_an_address_of_their_own():
    assert client_addresses(2) == [CLIENT, OTHER, WALKER]
    assert Load(port=1, threads=2).addresses == [CLIENT, OTHER, WALKER]
    # nginx's own 127.0.0.1 is none of them, at any number of threads.
    addresses = client_addresses(MAX_THREADS)
    assert len(set(addresses)) == MAX_THREADS + 1
    assert LOOPBACK not in addresses
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("127.0.0.0/24") for a in addresses)


def test_the_checks_fail_on_a_get_lost_in_the_rolling_restart():
    held = synthetic_report(None, *EVERY_CLIENT)["checks"]
    assert all(held.values())
    broken = synthetic_report(ROLLING, *EVERY_CLIENT)["checks"]
    assert broken["no GET failed during the rolling restart"] is False
    # A GET lost while a replica is killed is reported, not one of the checks.
    assert all(synthetic_report(KILL, *EVERY_CLIENT)["checks"].values())


@pytest.mark.parametrize(
    "logged",
    [
        ({CLIENT: 5, OTHER: 1, WALKER: 1, LOOPBACK: 1},),
        # One replica logged nothing of the rehearsal's.
        (*EVERY_CLIENT, {}),
        # One client's requests were logged by no replica.
        ({CLIENT: 5, WALKER: 1},),
        (),
    ],
    ids=["proxy-address", "silent-replica", "client-missing", "no-logs"],
)
def test_the_checks_fail_unless_the_replicas_log_every_client_address(logged):
    checks = synthetic_report(None, *logged)["checks"]
    assert checks["the replicas logged the clients' addresses"] is False


def test_the_checks_fail_when_nginx_refused_some_of_the_load():
    limited = "nginx refused none of the load for its per-client limits"
    assert synthetic_report(None, *EVERY_CLIENT, limited={})["checks"][limited]
    refused = synthetic_report(None, *EVERY_CLIENT, limited={"requests over the rate": 3})
    assert refused["checks"][limited] is False
    assert "nginx refused for the per-client limits: requests over the rate 3" in format_report(
        refused
    )


def test_a_skipped_attempt_fails_the_check_outside_the_kill_window_only():
    walks = "every sequence walk outside the kill -9 window in order"
    for phase in (STEADY, ROLLING):
        report = synthetic_report(None, *EVERY_CLIENT, skipped_in=phase)
        assert report["checks"][walks] is False
        assert report["sequence"]["in_order"] == 2
        (out,) = report["sequence"]["out_of_order"]
        assert out["phases"] == [phase]
    # A replica killed after it counted an attempt: the retry gets the next one.
    assert synthetic_report(None, *EVERY_CLIENT, skipped_in=KILL)["checks"][walks]


def test_a_walk_is_in_order_when_each_request_gets_its_entry():
    entries = [(503, "1"), (503, "2"), (502, "3"), (200, "4"), (200, "5")]
    assert Walk("k", set(), entries, []).in_order
    # The last entry repeats; a missing answer or a wrong attempt breaks the order.
    assert not Walk("k", set(), [*entries[:4], (502, "5")], []).in_order
    assert not Walk("k", set(), [*entries[:4], (None, None)], []).in_order
    assert not Walk("k", set(), entries[:4], []).in_order


def test_the_text_report_gives_the_figures():
    report = synthetic_report(ROLLING, *EVERY_CLIENT)
    text = format_report(report)
    assert "6 requests, 1 failed" in text
    assert re.search(r"^rolling restart\s+1\s+1\s+1\s+0$", text, re.M)
    assert "failed: GET at 1.0 s (rolling restart): 502" in text
    assert "FAILED no GET failed during the rolling restart" in text
    assert "replica 1: 127.0.0.2 3, 127.0.0.4 1; replica 2: 127.0.0.3 2, 127.0.0.4 1" in text
    assert "and a sequence walker, from 127.0.0.2-127.0.0.4, one address each" in text
    assert "sequence walks (503,503,502,200, 5 requests each): 3, 3 in order, 3 across" in text


# --- the real rehearsal --------------------------------------------------------------------------


def run_rehearsal() -> tuple[dict, str]:
    """Run `python -m deploy.rehearse --json`; return its report and its stderr."""
    for reason in programs.missing_programs():
        skip_or_fail(reason)
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.rehearse", "--json"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM lets it stop what it started before it goes.
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        pytest.fail(f"the rehearsal took over {RUN_TIMEOUT} s:\n{stderr}")
    assert process.returncode in (0, 1), stderr
    return json.loads(stdout), stderr


@pytest.fixture(scope="module")
def run():
    """The report of one real rehearsal, and how long it took; checked for leftovers first."""
    scratch = set(Path(tempfile.gettempdir()).glob("simple_flask_rehearsal_*"))
    began = time.monotonic()
    report, _ = run_rehearsal()
    took = time.monotonic() - began
    # Shown with -rP: the figures of this run.
    print(format_report(report))
    assert set(Path(tempfile.gettempdir()).glob("simple_flask_rehearsal_*")) == scratch
    return report, took


@pytest.mark.slow
def test_the_rehearsal_is_bounded_and_leaves_nothing_running(run):
    report, took = run
    assert took < RUN_TIMEOUT
    ports = report["topology"]["ports"]
    for port in [ports["nginx"], ports["redis"], *ports["replicas"]]:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((LOOPBACK, port), timeout=2).close()


@pytest.mark.slow
def test_no_get_fails_while_the_replicas_restart_one_at_a_time(run):
    report, _ = run
    rolling = report["by_phase"][ROLLING]
    assert rolling["GET"]["requests"] >= 100
    assert rolling["GET"]["failures"] == 0, report["failed_requests"]
    graceful = [done for done in report["restarts"] if done["signal"] == "SIGTERM"]
    assert [done["replica"] for done in graceful] == [1, 2, 3]
    # Each drained and exited 0, came back and got requests from nginx again.
    assert all(done["exit_status"] == 0 for done in graceful), graceful
    assert all(done["back_in_rotation_s"] is not None for done in report["restarts"])
    assert report["checks"]["no GET failed during the rolling restart"] is True


@pytest.mark.slow
def test_gets_survive_a_kill_and_posts_are_counted(run):
    report, _ = run
    (killed,) = [done for done in report["restarts"] if done["signal"] == "SIGKILL"]
    assert killed["exit_status"] == -signal.SIGKILL
    kill = report["by_phase"][KILL]
    # nginx sends a GET that met the dead replica to another one...
    assert kill["GET"]["requests"] >= 50
    assert kill["GET"]["failures"] == 0, report["failed_requests"]
    assert report["by_phase"][STEADY]["GET"]["failures"] == 0
    # ...but not a POST it had sent there: those are counted, whatever their number.
    assert kill["POST"]["requests"] >= 50
    failed = report["failed_requests"]
    assert report["failures"] == sum(
        methods[method]["failures"]
        for methods in report["by_phase"].values()
        for method in ("GET", "POST")
    )
    assert len(failed) == min(20, report["failures"])
    assert {failure["method"] for failure in failed} <= {"POST"}


@pytest.mark.slow
def test_the_replicas_log_the_client_address_nginx_forwards(run):
    report, _ = run
    logged = report["access_log"]
    # The four client threads and the walker, one address each; not nginx's.
    addresses = report["topology"]["client_addresses"]
    assert addresses == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]
    assert set(logged["clients"]) == set(addresses)
    assert sum(logged["clients"].values()) == logged["lines"]
    # Each replica logged its share of every client's requests, with its address.
    assert sorted(logged["by_replica"]) == ["1", "2", "3"]
    for found in logged["by_replica"].values():
        assert set(found) == set(addresses)
        assert sum(found.values()) >= 100
    # Every answered request of the load was logged by the replica that answered it.
    assert logged["lines"] >= 0.99 * (report["requests"] - report["failures"])


@pytest.mark.slow
def test_nginx_neither_limits_the_load_nor_runs_out_of_replicas(run):
    report, _ = run
    # Five clients, each under the per-address limits: none of them refused.
    assert report["nginx_limited"] == {}
    assert report["checks"]["nginx refused none of the load for its per-client limits"] is True
    # nginx met the refused connections of the restarted and the killed
    # replicas and passed them over, but never marked one down (max_fails=0),
    # so it always had a replica left to try.
    assert report["nginx_passed_over"].get("connection refused", 0) > 0
    assert "no live upstreams" not in report["nginx_passed_over"]


@pytest.mark.slow
def test_sequences_walked_through_nginx_stay_in_order(run):
    report, _ = run
    assert report["topology"]["readiness_path"] == "/readyz"
    sequence = report["sequence"]
    assert sequence["walks"] >= 20
    # Walks that crossed a rolling restart too: the attempts live in Redis.
    assert sequence["by_phase"][ROLLING]["walks"] > 0
    outside_kill = sequence["walks"] - sequence["by_phase"][KILL]["walks"]
    assert sequence["in_order"] >= outside_kill > 0, sequence["out_of_order"]
    assert sequence["across_replicas"] >= sequence["walks"] // 2
    assert report["checks"]["every sequence walk outside the kill -9 window in order"] is True
