"""Failure sequences on real servers (python start.py) and a real redis-server, on loopback.

Two replicas sharing one Redis walk one sequence; concurrent requests each
get one entry; a Redis outage is answered 503 and healed without a restart;
sequences expire; the memory store stays bounded; a password never shows.
"""

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.redis_support import running_redis
from tests.support import LOOPBACK, ROOT, START, free_port, running_server

pytestmark = pytest.mark.slow

PASSWORD = "hunter2secret"
CONCURRENT_CODES = list(range(200, 250))


def get(server, path: str) -> tuple[int, str | None, dict]:
    response, body = server.request("GET", path, timeout=30)
    data = json.loads(body) if body and "json" in (response.getheader("Content-Type") or "") else {}
    return response.status, response.getheader("X-Sequence-Attempt"), data


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hammer(server, paths: list[str], threads: int) -> list[tuple[int, str | None]]:
    """Send `paths` from `threads` threads, each on one persistent connection; return answers."""
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    queue = iter(paths)

    def worker():
        connection = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
        try:
            while True:
                with lock:
                    path = next(queue, None)
                if path is None:
                    return
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                with lock:
                    answers.append((response.status, response.getheader("X-Sequence-Attempt")))
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(120)
    return answers


@contextlib.contextmanager
def service(state_url: str | None = None, **env: str):
    settings = {"SIMPLE_FLASK_ACCESS_LOG": "0", **env}
    if state_url:
        settings["SIMPLE_FLASK_STATE_URL"] = state_url
    with running_server(env=settings) as server:
        yield server


def test_two_replicas_sharing_redis_walk_one_sequence():
    with running_redis() as redis, service(redis.url) as one, service(redis.url) as two:
        path = "/status/503,503,502,200?sequence=replicas"
        answers = [get((one, two)[n % 2], path)[:2] for n in range(6)]
        assert answers == [
            (503, "1"),
            (503, "2"),
            (502, "3"),
            (200, "4"),
            (200, "5"),
            (200, "6"),
        ]
        status, _, report = get(one, "/status/sequences/replicas")
        assert status == 200
        assert [a["served"] for a in report["attempts"]] == [
            "503",
            "503",
            "502",
            "200",
            "200",
            "200",
        ]
        # A DELETE on one replica starts the sequence again on the other.
        assert two.request("DELETE", "/status/sequences/replicas")[0].status == 204
        assert get(one, path)[:2] == (503, "1")
        # A key bound on one replica is bound on the other.
        assert get(two, "/status/500?sequence=replicas")[0] == 409


def test_a_connection_fault_is_an_entry_like_a_code():
    with service() as server:
        path = "/status/reset,503,200?sequence=faulty"
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            server.request("GET", path)
        assert get(server, path)[:2] == (503, "2")
        assert get(server, path)[:2] == (200, "3")
        report = get(server, "/status/sequences/faulty")[2]
        assert [a["served"] for a in report["attempts"]] == ["reset", "503", "200"]


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_concurrent_requests_on_one_key_each_get_one_entry(store):
    codes = ",".join(map(str, CONCURRENT_CODES))
    path = f"/status/{codes}?sequence=crowd"
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(running_redis()).url if store == "redis" else None
        server = stack.enter_context(service(url, SIMPLE_FLASK_THREADS="8"))
        answers = hammer(server, [path] * len(CONCURRENT_CODES), threads=8)
    assert sorted(status for status, _ in answers) == CONCURRENT_CODES
    assert sorted(int(attempt) for _, attempt in answers) == list(range(1, 51))
    # Attempt n got entry n.
    assert all(status == 199 + int(attempt) for status, attempt in answers)


def test_a_redis_outage_is_answered_503_and_heals_without_a_restart():
    with running_redis() as redis, service(redis.url) as server:
        path = "/status/503,200?sequence=outage"
        assert get(server, path)[:2] == (503, "1")
        assert get(server, "/readyz")[0] == 200
        redis.stop()
        # Answered without Redis (get() gives up on a server silent for 30 s).
        status, attempt, problem = get(server, path)
        assert (status, attempt) == (503, None)
        assert "sequence store is unavailable" in problem["detail"]
        assert server.request("GET", "/")[1] == b"Hallo from CORE!"
        assert get(server, "/status/418")[0] == 418
        assert get(server, "/readyz")[0] == 503
        assert get(server, "/healthz")[0] == 200

        redis.start()
        deadline = time.monotonic() + 30
        while get(server, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "/readyz stayed 503 after Redis came back"
            time.sleep(0.1)
        # This Redis keeps nothing on disk, so the sequence starts again.
        assert get(server, path)[:2] == (503, "1")
        assert get(server, path)[:2] == (200, "2")


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_an_unused_sequence_expires_after_the_ttl(store):
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(running_redis()).url if store == "redis" else None
        server = stack.enter_context(service(url, SIMPLE_FLASK_SEQUENCE_TTL="1"))
        path = "/status/503,200?sequence=brief"
        assert get(server, path)[:2] == (503, "1")
        last_used = time.monotonic()
        assert get(server, path)[:2] == (200, "2")
        # Reading the report does not count as a use: it is polled until it goes.
        deadline = time.monotonic() + 30
        while get(server, "/status/sequences/brief")[0] == 200:
            assert time.monotonic() < deadline, "the sequence never expired"
            time.sleep(0.05)
        forgotten_after = time.monotonic() - last_used
        assert get(server, "/status/sequences/brief")[0] == 404
        assert get(server, path)[:2] == (503, "1")
    # Kept for the TTL's second after its last use, not forgotten before.
    assert forgotten_after >= 1, forgotten_after


def test_twenty_thousand_keys_keep_the_memory_store_bounded():
    with service(None, SIMPLE_FLASK_MAX_SEQUENCES="10000") as server:
        pid = server.process.pid
        # Warm up: the code paths, the connection handling, the first few keys.
        hammer(server, [f"/status/503,200?sequence=warm-{n}" for n in range(500)], threads=4)
        before = rss_kib(pid)
        paths = [f"/status/503,200?sequence=key-{n:05d}" for n in range(20_000)]
        answers = hammer(server, paths, threads=4)
        after = rss_kib(pid)
        assert len(answers) == 20_000 and {status for status, _ in answers} == {503}
        growth_mib = (after - before) / 1024
        print(f"RSS {before} KiB -> {after} KiB: {growth_mib:.1f} MiB for 20,000 keys")
        assert growth_mib < 10
        # The first 10,000 keys (and the warm-up ones) went; the last 10,000 stayed.
        # Four threads may store neighbouring keys out of order, so the keys
        # within a few places of the boundary may fall on either side.
        margin = 8
        for n in [
            *range(0, 10_000 - margin, 500),
            10_000 - margin,
            *range(10_000 + margin, 20_000, 500),
        ]:
            expected = 404 if n < 10_000 else 200
            assert get(server, f"/status/sequences/key-{n:05d}")[0] == expected, n
        assert get(server, "/status/sequences/key-19999")[0] == 200


def test_a_bad_state_url_stops_the_start_with_one_line_and_no_password():
    result = subprocess.run(
        START,
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "HOST": LOOPBACK,
            "PORT": str(free_port()),
            "SIMPLE_FLASK_STATE_URL": f"redis://:{PASSWORD}@127.0.0.1:99999/0",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "SIMPLE_FLASK_STATE_URL" in result.stderr
    assert "redis://***@127.0.0.1:99999/0" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_the_password_never_shows_whether_redis_accepts_it_or_not():
    with running_redis(password=PASSWORD) as redis:
        url = f"redis://:{PASSWORD}@127.0.0.1:{redis.port}/0"
        wrong = f"redis://:{PASSWORD}-wrong@127.0.0.1:{redis.port}/0"
        gone = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
        servers = []
        with service(url, SIMPLE_FLASK_ACCESS_LOG="1") as good:
            servers.append(good)
            assert get(good, "/status/503,200?sequence=auth")[:2] == (503, "1")
            assert get(good, "/readyz")[0] == 200
        for bad_url in (wrong, gone):
            with service(bad_url, SIMPLE_FLASK_ACCESS_LOG="1") as bad:
                servers.append(bad)
                status, _, problem = get(bad, "/status/503,200?sequence=auth")
                assert status == 503
                assert PASSWORD not in json.dumps(problem)
                assert get(bad, "/readyz")[0] == 503
    for server in servers:
        stdout, stderr = server.output()
        assert "Sequences kept in redis://***@127.0.0.1" in stderr
        assert PASSWORD not in stdout + stderr
    # The failing ones said why in their log, without the password.
    for server in servers[1:]:
        assert "sequence store redis://***@127.0.0.1" in server.output()[1]


def test_the_healthcheck_command_asks_readiness_when_told():
    command = [sys.executable, "-m", "simple_flask", "healthcheck", "--host", LOOPBACK]
    with service(f"redis://127.0.0.1:{free_port()}/0") as server:
        port = ["--port", str(server.port)]
        live = subprocess.run([*command, *port], capture_output=True, text=True, timeout=30)
        ready = subprocess.run(
            [*command, *port, "--path", "/readyz"], capture_output=True, text=True, timeout=30
        )
    assert live.returncode == 0, live.stderr
    assert ready.returncode == 1
    assert "/readyz: /readyz answered 503 Service Unavailable" in ready.stderr


def redis_connections(pid: int, port: int) -> int:
    """The TCP connections process `pid` holds to loopback port `port` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[9] in inodes:
            count += 1
    return count


def test_a_frozen_redis_costs_only_the_sequence_requests():
    with running_redis() as redis, service(redis.url, SIMPLE_FLASK_ACCESS_LOG="1") as server:
        assert get(server, "/status/503,200?sequence=warm")[:2] == (503, "1")
        stop_sequences = threading.Event()
        sequence_answers: list[tuple[int, str | None]] = []

        def sequence_client(number: int) -> None:
            while not stop_sequences.is_set():
                response, _ = server.request("GET", f"/status/503?sequence=frozen-{number}")
                sequence_answers.append((response.status, response.getheader("Retry-After")))

        os.kill(redis.process.pid, signal.SIGSTOP)
        clients = [threading.Thread(target=sequence_client, args=(n,)) for n in range(32)]
        try:
            for client in clients:
                client.start()
            greetings = []
            for number in range(40):
                request_id = f"frozen-greeting-{number}"
                path = "/healthz" if number % 2 else "/"
                response, _ = server.request("GET", path, headers={"X-Request-ID": request_id})
                greetings.append((response.status, request_id))
                # At most the bulkhead's two workers ever wait on Redis at once.
                assert redis_connections(server.process.pid, redis.port) <= 2 + 1
                time.sleep(0.05)
        finally:
            stop_sequences.set()
            for client in clients:
                client.join(60)
            os.kill(redis.process.pid, signal.SIGCONT)
        assert {status for status, _ in greetings} == {200}
        # Every sequence request got a 503 that says when to come back, none a 500.
        assert sequence_answers and {status for status, _ in sequence_answers} == {503}
        assert all(retry is not None for _, retry in sequence_answers)
        # As the server timed them: none of the greetings and health checks
        # waited on Redis (its timeout is 0.5 s; they took milliseconds).
        lines = [json.loads(line) for line in server.output()[0].splitlines() if line]
        durations = [
            line["duration_ms"]
            for line in lines
            if line["request_id"].startswith("frozen-greeting-")
        ]
        print(f"greetings and /healthz with Redis frozen: max {max(durations):.1f} ms")
        assert len(durations) == 40 and max(durations) < 1000


def test_the_redis_store_keeps_its_bound_and_never_answers_500():
    with running_redis() as redis, service(redis.url, SIMPLE_FLASK_MAX_SEQUENCES="300") as server:
        paths = [f"/status/503,200?sequence=bound-{n:04d}" for n in range(1000)]
        answers = hammer(server, paths, threads=4)
        assert {status for status, _ in answers} == {503}
        keys = redis.command("KEYS", "simple_flask:seq:*")
        assert 0 < keys.count(b"simple_flask:seq:") <= 2 * 300, keys[:200]
        assert get(server, "/status/sequences/bound-0000")[0] == 404
        assert get(server, "/status/sequences/bound-0999")[0] == 200
        # A sequence's keys deleted by hand, one or both: unknown, then a fresh start.
        redis.command("DEL", "simple_flask:seq:{bound-0999}")
        assert get(server, "/status/sequences/bound-0999")[0] == 404
        assert get(server, paths[999])[:2] == (503, "1")
        redis.command("DEL", "simple_flask:seq:{bound-0999}:attempts")
        status, _, report = get(server, "/status/sequences/bound-0999")
        assert status == 200 and report["attempts"] == []
        assert get(server, paths[999])[:2] == (200, "2")
        listed = get(server, "/status/sequences/")[2]["keys"]
        assert len(listed) == 100 and all(key.startswith("bound-") for key in listed)


def test_two_prefixes_on_one_redis_keep_a_key_apart():
    with running_redis() as redis:
        with (
            service(redis.url, SIMPLE_FLASK_STATE_PREFIX="team-a") as one,
            service(redis.url, SIMPLE_FLASK_STATE_PREFIX="team-b") as two,
        ):
            assert get(one, "/status/503,200?sequence=same")[:2] == (503, "1")
            # Another list under the same key: no 409, and its own count.
            assert get(two, "/status/500?sequence=same")[:2] == (500, "1")
            assert get(one, "/status/503,200?sequence=same")[:2] == (200, "2")
            assert two.request("DELETE", "/status/sequences/")[0].status == 204
            assert get(one, "/status/sequences/same")[2]["attempts_total"] == 2


def test_readiness_fails_while_redis_refuses_writes():
    with running_redis() as redis, service(redis.url) as server:
        assert get(server, "/readyz")[0] == 200
        redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        redis.command("CONFIG", "SET", "maxmemory", "1")
        try:
            assert get(server, "/readyz")[0] == 503
            # A sequence is served or answered 503, never a 500.
            assert get(server, "/status/503?sequence=full")[0] == 503
        finally:
            redis.command("CONFIG", "SET", "maxmemory", "0")
        assert get(server, "/readyz")[0] == 200
