"""Graceful shutdown of the real server: SIGTERM and SIGINT drain requests in flight, exit 0."""

import concurrent.futures
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import LOOPBACK, ROOT, running_server, skip_or_fail, unshare_problem

pytestmark = pytest.mark.slow

# Long enough to see that a request is waited for, short enough for the suite.
SLEEP_MS = 4000
# A grace and an idle timeout far longer than any wait below: a server that
# waited for either, instead of for the requests in flight alone, would
# outlast EXIT_TIMEOUT.
LONG_WAITS = {"SIMPLE_FLASK_SHUTDOWN_GRACE": "120", "SIMPLE_FLASK_IDLE_TIMEOUT": "300"}
# How long a stopping server may take to exit: a guard against a hang, not a
# measure of speed (the grace above is far longer).
EXIT_TIMEOUT = 60


def server_has_read(server_port: int, client_port: int) -> bool:
    """Tell whether the server took the request off its socket (loopback, IPv4).

    /proc/net/tcp lists the server's end of the connection with its receive
    queue: bytes the kernel holds that the server has not read yet.
    """
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            return int(fields[4].split(":")[1], 16) == 0
    return False


def wait_until(condition, timeout: float = 30, interval: float = 0.01) -> bool:
    """Poll `condition` until it holds; False if it never did within `timeout` s (hung)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_until_read(server_port: int, sock: socket.socket) -> None:
    """Return once the server has read what was sent on `sock`."""
    client_port = sock.getsockname()[1]
    assert wait_until(lambda: server_has_read(server_port, client_port)), "never read"


def answer(connection: http.client.HTTPConnection) -> tuple[int, bytes]:
    """Read the answer of the request sent on `connection`."""
    try:
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def request_in_flight(port: int, sleep_ms: int = SLEEP_MS):
    """Send GET /status/200?sleep=`sleep_ms`; once the server has read it, yield its future."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    connection.request("GET", f"/status/200?sleep={sleep_ms}")
    wait_until_read(port, connection.sock)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(answer, connection)


def refused(port: int) -> bool:
    """Tell whether a new connection to `port` is refused."""
    try:
        # A connect that reaches the listener as it closes may go unanswered
        # until its SYN is sent again, a second later: the timeout leaves room.
        socket.create_connection((LOOPBACK, port), timeout=10).close()
    except (ConnectionRefusedError, ConnectionResetError):
        # Reset: the connection reached the backlog just as the socket closed.
        return True
    except TimeoutError:
        # Neither accepted nor refused yet: the caller asks again.
        return False
    return False


def wait_refused(port: int) -> None:
    """Return once new connections to `port` are refused: the listener has closed."""
    assert wait_until(lambda: refused(port), interval=0.05), "still accepting after the signal"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_request_in_flight_finish_then_exits_0(signum):
    with running_server(env=LONG_WAITS) as server:
        with request_in_flight(server.port) as answered:
            server.process.send_signal(signum)
            # New connections are refused while the request finishes.
            wait_refused(server.port)
            assert server.process.poll() is None, "exited with a request in flight"
            assert answered.result(timeout=60) == (200, b"200 OK")
        # It exits once the request is answered, not at the end of the grace.
        assert server.process.wait(EXIT_TIMEOUT) == 0
    stdout, stderr = server.output()
    assert '"path":"/status/200","status":200' in stdout
    assert "1 request(s) in flight finished" in stderr
    assert "Traceback" not in stderr


def test_idle_and_slow_clients_do_not_hold_the_shutdown():
    with running_server(env=LONG_WAITS) as server:
        keep_alive = http.client.HTTPConnection(LOOPBACK, server.port, timeout=60)
        keep_alive.request("GET", "/")
        keep_alive.getresponse().read()
        slow = socket.create_connection((LOOPBACK, server.port), timeout=60)
        slow.sendall(b"GET /half-a-req")
        wait_until_read(server.port, slow)
        server.process.send_signal(signal.SIGTERM)
        # Nothing was in flight: no grace was waited for.
        status = server.process.wait(EXIT_TIMEOUT)
        keep_alive.close()
        slow.close()
    assert status == 0
    assert "0 request(s) in flight finished" in server.output()[1]


def test_a_request_outliving_the_grace_period_is_cut_off_and_the_process_exits_0():
    with running_server(env={"SIMPLE_FLASK_SHUTDOWN_GRACE": "1"}) as server:
        # Far longer than the grace: only a cut-off ends it in time.
        with request_in_flight(server.port, 10_000) as answered:
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            status = server.process.wait(EXIT_TIMEOUT)
            took = time.monotonic() - signalled
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                answered.result(timeout=60)
    assert status == 0
    # The whole grace was given.
    assert took >= 1, took
    stderr = server.output()[1]
    assert "shutdown grace of 1s ended with 1 request(s) still running" in stderr


def test_a_second_signal_ends_the_drain_at_once():
    with running_server(env=LONG_WAITS) as server:
        with request_in_flight(server.port, 10_000) as answered:
            server.process.send_signal(signal.SIGTERM)
            # The first signal has been handled: the drain is under way.
            wait_refused(server.port)
            assert server.process.poll() is None, "exited before the request finished"
            server.process.send_signal(signal.SIGINT)
            status = server.process.wait(EXIT_TIMEOUT)
            # Cut off, neither answered after its 10 s nor waited for through the grace.
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                answered.result(timeout=60)
    assert status == 0
    assert "1 request(s) still running" in server.output()[1]


def test_a_signal_while_the_app_is_being_built_is_kept_and_honoured():
    script = (
        "import os, signal\n"
        "import simple_flask.server.serving as serving\n"
        "from simple_flask.core.settings import Settings\n"
        "build = serving.build_app\n"
        "def build_then_signal(settings):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return build(settings)\n"
        "serving.build_app = build_then_signal\n"
        "raise SystemExit(serving.serve(Settings(host='127.0.0.1', port=0)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "stopped after" in result.stderr


def children(pid: int) -> list[int]:
    """Return the pids of the processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The command name in (...) may hold spaces; the fields after it do not.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def pid_namespace_problem() -> str | None:
    """Return why a PID namespace cannot be made here, or None if it can."""
    return unshare_problem("--pid", "--fork", "--mount-proc")


def test_as_pid_1_of_its_own_pid_namespace_sigterm_drains_and_exits_0():
    """As in a container: PID 1 ignores a signal it has no handler for; this one has one."""
    problem = pid_namespace_problem()
    if problem:
        skip_or_fail(problem)
    # --kill-child: should this test fail, the server dies with unshare.
    command = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    command += [sys.executable, str(ROOT / "start.py")]
    with running_server(command=command, env=LONG_WAITS) as server:
        (pid,) = children(server.process.pid)
        namespace_pids = next(
            line.split()[1:]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("NSpid:")
        )
        assert namespace_pids == [str(pid), "1"], "the server is not PID 1 of its namespace"
        with request_in_flight(server.port) as answered:
            os.kill(pid, signal.SIGTERM)
            assert answered.result(timeout=60) == (200, b"200 OK")
            # unshare exits with the status of the process it started.
            status = server.process.wait(EXIT_TIMEOUT)
    assert status == 0
    assert "1 request(s) in flight finished" in server.output()[1]


def tight_loop(port: int, stop: threading.Event, record: dict) -> None:
    """Send GET / over one keep-alive connection as fast as answers come; record the outcome.

    A refused connect (the listener has closed) ends the loop and is no loss;
    a reset or an empty reply on a connection whose request was sent is one.
    """
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    try:
        for _ in range(20_000):
            if stop.is_set():
                return
            if connection.sock is None:
                try:
                    connection.connect()
                except (ConnectionRefusedError, ConnectionResetError):
                    record["refused"] += 1
                    return
            try:
                connection.request("GET", "/")
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                record["lost"].append(repr(error))
                return
            record["answered"] += 1
            if response.will_close:
                # The server said Connection: close; the next request needs a new connection.
                connection.close()
    finally:
        connection.close()


@pytest.mark.parametrize("run", range(3))
def test_keep_alive_clients_in_tight_loops_lose_no_request_to_sigterm(run):
    with running_server(env=LONG_WAITS) as server:
        stop = threading.Event()
        records = [{"answered": 0, "refused": 0, "lost": []} for _ in range(8)]
        threads = [
            threading.Thread(target=tight_loop, args=(server.port, stop, record), daemon=True)
            for record in records
        ]
        for thread in threads:
            thread.start()
        # Every client is in its loop before the signal.
        assert wait_until(lambda: all(record["answered"] > 10 for record in records)), records
        server.process.send_signal(signal.SIGTERM)
        # Once the last answers are out it exits, waiting neither for the
        # keep-alive connections to go idle nor for the grace.
        status = server.process.wait(EXIT_TIMEOUT)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
    assert status == 0
    lost = [error for record in records for error in record["lost"]]
    assert lost == [], f"lost requests: {lost}"
    assert "request(s) in flight finished" in server.output()[1]
