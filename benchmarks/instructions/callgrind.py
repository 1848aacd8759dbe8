"""One server's instructions counted by callgrind over a window of keep-alive GETs."""

import http.client
import os
import subprocess
import time
from pathlib import Path

from simple_flask.testing.processes import LOOPBACK

from .. import process
from ..load import ORIGIN
from ..targets import EXPECTED_STATUS
from .cases import Case

# Seconds to wait before switching counting on and before dumping, so that the
# server thread finishing the previous answer (after its last byte was sent)
# is done: every counted request is counted whole, and only once.
SETTLE = 0.5
# Start-up under valgrind is some ten times slower than without it.
START_TIMEOUT = 300
# valgrind flushes its counts and writes its files before the server exits.
STOP_TIMEOUT = 120


def callgrind(out: Path) -> tuple[str, ...]:
    """Return the valgrind command line that runs a server, not counting until told to."""
    return (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--dump-instr=no",
        f"--callgrind-out-file={out}",
    )


def control(pid: int, option: str) -> None:
    """Send one callgrind_control command (--instr=on, --zero, --dump) to process `pid`."""
    result = subprocess.run(
        ["callgrind_control", option, str(pid)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # valgrind names its control pipes after $HOST, which the server's
        # environment sets to the address it listens on.
        env={**os.environ, "HOST": LOOPBACK},
    )
    # It prints "OK." even when vgdb could not reach the process; vgdb says so on stderr.
    failed = "error" in result.stderr.lower() or "failed" in result.stderr.lower()
    if result.returncode != 0 or failed or "OK" not in result.stdout:
        raise RuntimeError(f"callgrind_control {option} failed: {result.stdout}{result.stderr}")


def total_ir(dump: Path) -> int:
    """Return the total instruction count of a callgrind output file."""
    for line in dump.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"{dump} holds no totals")


def send(connection: http.client.HTTPConnection, route: str, expected: int, times: int) -> None:
    """Send `times` GETs of `route` over `connection`, each answered `expected` on the same one."""
    for _ in range(times):
        # The request wrk sends: Host and Origin, nothing else.
        connection.putrequest("GET", route, skip_accept_encoding=True)
        connection.putheader("Origin", ORIGIN)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        if response.status != expected:
            raise RuntimeError(f"{route} answered {response.status}, not {expected}")
        if response.will_close:
            raise RuntimeError(f"{route}: the server closed the keep-alive connection")


def count(case: Case, python: Path, requests: int, warmup: int, directory: Path) -> int:
    """Return the instructions the server of `case` executed while answering `requests` GETs."""
    out = directory / f"{case.name}.callgrind"
    running = process.start(
        case.target,
        python,
        timeout=START_TIMEOUT,
        wrapper=callgrind(out),
        settings=case.settings,
    )
    pid = running.process.pid
    connection = http.client.HTTPConnection(LOOPBACK, running.port, timeout=120)
    try:
        send(connection, case.route, EXPECTED_STATUS[case.route], warmup)
        time.sleep(SETTLE)
        control(pid, "--instr=on")
        control(pid, "--zero")
        send(connection, case.route, EXPECTED_STATUS[case.route], requests)
        time.sleep(SETTLE)
        control(pid, "--dump")
    finally:
        connection.close()
        running.stop(STOP_TIMEOUT)
    # callgrind numbers its dumps: the first is <out>.1, the final one <out>.
    return total_ir(Path(f"{out}.1"))
