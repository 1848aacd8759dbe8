"""`python -m benchmarks.instructions`: machine instructions per request, counted by callgrind.

Seconds on a shared machine move with its other jobs; instructions do not.
For each case below (a server, a route, sometimes a setting) this counts the
instructions (callgrind's Ir) the whole server process, every thread of it,
executes per answered GET:

1. The server starts as the wrk suite starts it (the service's production
   waitress options, the same environment, output to /dev/null), but under
   `valgrind --tool=callgrind --instr-atstart=no`: nothing is counted yet, and
   start-up runs several times faster than it would while being counted.
2. A client in this process, outside valgrind, opens one keep-alive
   connection and sends `warmup` GETs (with the Origin header wrk sends), so
   that first-request work (lazy imports, caches, the interpreter's
   specialisation of hot code) is done before anything is counted.
3. `callgrind_control` switches instrumentation on and zeroes the counters;
   the client sends `requests` more GETs on the same connection, checking
   each status; `callgrind_control --dump` writes the counters out.
   Per request = the dump's total Ir / `requests`.

Start-up and shutdown never enter the count, so no idle run has to be
subtracted; what the window holds besides the requests (the server noticing
the control commands, waitress's once-a-second poll timeout) is some tens of
thousands of instructions, under 0.01% of a full run's count.

Ratios are taken as in the wrk suite, against the server a user would pick
instead, the larger the better: minimal Flask's count / the service's count
on the greeting, httpbin's / the service's on /status/418. `--runs 2` (the
default) measures every case twice in fresh processes, which shows how
repeatable the figures are. Writes instructions.json and instructions.md.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import process, report, venvs
from .load import ORIGIN
from .process import LOOPBACK, ROOT
from .suite import Plan, note
from .targets import BARE, EXPECTED_STATUS, FLASK, GREETING, HTTPBIN, SERVICE, STATUS, Target

# Seconds to wait before switching counting on and before dumping, so that the
# server thread finishing the previous answer (after its last byte was sent)
# is done: every counted request is counted whole, and only once.
SETTLE = 0.5
# Start-up under valgrind is some ten times slower than without it.
START_TIMEOUT = 300


@dataclass(frozen=True)
class Case:
    """One measured server, route and configuration."""

    name: str
    label: str
    target: Target
    route: str
    # Environment variables on top of the production defaults.
    settings: dict[str, str] = field(default_factory=dict)


CASES = (
    Case("bare", BARE.label, BARE, GREETING),
    Case("flask", FLASK.label, FLASK, GREETING),
    Case("service", SERVICE.label, SERVICE, GREETING),
    Case(
        "service-no-log",
        f"{SERVICE.label}, access log off",
        SERVICE,
        GREETING,
        {"SIMPLE_FLASK_ACCESS_LOG": "0"},
    ),
    Case("httpbin", HTTPBIN.label, HTTPBIN, STATUS),
    Case("service-status", SERVICE.label, SERVICE, STATUS),
)
BY_NAME = {case.name: case for case in CASES}
# (what, numerator, denominator, goal): the numerator is the alternative, so
# that higher is better, as with the suite's throughput ratios.
RATIOS = (
    (f"GET {GREETING}, minimal Flask / simple_flask", "flask", "service", 0.9),
    (f"GET {STATUS}, httpbin / simple_flask", "httpbin", "service-status", 1.7),
)


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
        process.stop(running.process, timeout=120)
    # callgrind numbers its dumps: the first is <out>.1, the final one <out>.
    return total_ir(Path(f"{out}.1"))


@dataclass
class Measured:
    """Per-request counts of each case, one per run, and the cases that failed."""

    per_request: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def measure(
    cases: tuple[Case, ...], requests: int, warmup: int, runs: int, jobs: int
) -> tuple[Measured, Path | None]:
    """Count each case `runs` times, `jobs` servers at once; return the counts, httpbin's Python."""
    pythons = {case.name: Path(sys.executable) for case in cases}
    httpbin_python = None
    if any(case.target.own_venv for case in cases):
        # The suite's environment for httpbin, made on first use and shared with it.
        note(f"httpbin: preparing its environment in {Plan.venv}")
        httpbin_python = venvs.httpbin_python(Plan.venv)
        pythons.update({case.name: httpbin_python for case in cases if case.target.own_venv})
    measured = Measured()

    def one(run: int, case: Case) -> None:
        with tempfile.TemporaryDirectory(prefix="benchmarks-callgrind-") as directory:
            try:
                ir = count(case, pythons[case.name], requests, warmup, Path(directory))
            except Exception as error:
                measured.failures[case.name] = f"{type(error).__name__}: {error}"
                note(f"run {run}/{runs} {case.name:15} failed: {error}")
                return
        per_request = ir / requests
        measured.per_request.setdefault(case.name, []).append(per_request)
        note(f"run {run}/{runs} {case.name:15} {per_request:>12,.0f} instructions per request")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # Each run's results complete before the next run's, so runs stay in order.
        for run in range(1, runs + 1):
            list(pool.map(lambda case, run=run: one(run, case), cases))
    return measured, httpbin_python


def summarize(
    cases: tuple[Case, ...], measured: Measured, meta: dict[str, object]
) -> dict[str, object]:
    """Return the measurement as one JSON-ready dict: every run, the medians and the ratios."""
    entries = []
    for case in cases:
        runs = measured.per_request.get(case.name, [])
        entry: dict[str, object] = {
            "name": case.name,
            "label": case.label,
            "route": case.route,
            "settings": case.settings,
            "failed": measured.failures.get(case.name),
            "runs": [round(value) for value in runs],
            "ir_per_request": round(statistics.median(runs)) if runs else None,
        }
        if len(runs) > 1:
            # (largest - smallest) / median: how far apart the runs are.
            entry["spread"] = round((max(runs) - min(runs)) / statistics.median(runs), 5)
        entries.append(entry)
    found = {entry["name"]: entry for entry in entries}
    ratios = []
    for what, numerator, denominator, goal in RATIOS:
        top = found.get(numerator, {}).get("ir_per_request")
        bottom = found.get(denominator, {}).get("ir_per_request")
        value = round(top / bottom, 3) if top and bottom else None
        ratios.append(
            {
                "ratio": what,
                "numerator": numerator,
                "denominator": denominator,
                "measured": value,
                "goal": f">= {goal}",
                "met": None if value is None else value >= goal,
            }
        )
    return {"meta": meta, "cases": entries, "ratios": ratios}


def metadata(requests: int, warmup: int, runs: int, httpbin_python: Path | None) -> dict:
    """Return when, on what and with which versions and counts the measurement was taken."""
    venv_path = [str(venvs.purelib(httpbin_python))] if httpbin_python else None
    found = report.versions(venv_path)
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
    found["valgrind"] = valgrind.stdout.strip().removeprefix("valgrind-") or None
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": report.machine(),
        "versions": found,
        "commit": report.commit(),
        "requests": requests,
        "warmup": warmup,
        "runs": runs,
        # Every server ran with these, the service's production options.
        "waitress": report.waitress(),
    }


def table(summary: dict[str, object]) -> str:
    """Return the measurement as Markdown: a count per case, then the ratios."""
    meta = summary["meta"]
    lines = [
        "| route | server | instructions per request | runs | spread |",
        "|---|---|---:|---:|---:|",
    ]
    for entry in summary["cases"]:
        if entry["failed"]:
            failed = f"failed: {entry['failed']}"
            lines.append(f"| `{entry['route']}` | {entry['label']} | {failed} | | |")
            continue
        runs = " / ".join(f"{value:,}" for value in entry["runs"])
        spread = f"{100 * entry['spread']:.2f}%" if "spread" in entry else ""
        lines.append(
            f"| `{entry['route']}` | {entry['label']} | {entry['ir_per_request']:,}"
            f" | {runs} | {spread} |"
        )
    lines += [
        "",
        f"Instructions (callgrind Ir) of the whole server process per GET, over"
        f" {meta['requests']:,} keep-alive requests after {meta['warmup']} uncounted ones;"
        f" the median of {meta['runs']} run(s), each in a fresh process.",
        "",
        "| ratio | measured | goal | met |",
        "|---|---:|---:|:---:|",
    ]
    for ratio in summary["ratios"]:
        value = "" if ratio["measured"] is None else f"{ratio['measured']:.3f}"
        met = {True: "yes", False: "**no**", None: "n/a"}[ratio["met"]]
        lines.append(f"| {ratio['ratio']} | {value} | {ratio['goal']} | {met} |")
    return "\n".join(lines) + "\n"


def stamp(meta: dict[str, object]) -> str:
    """Return one line saying when, where and with what the counts were taken."""
    versions = meta["versions"]
    machine = meta["machine"]
    names = ("python", "Flask", "Werkzeug", "waitress", "flask-cors", "httpbin", "valgrind")
    parts = ", ".join(f"{name} {versions[name]}" for name in names if versions.get(name))
    commit = f" @ {meta['commit']}" if meta.get("commit") else ""
    return (
        f"{meta['date']} · {machine['cpu']}, {machine['system']} · {parts}"
        f" · simple_flask {versions.get('simple-flask')}{commit}"
    )


def write(summary: dict[str, object], out: Path) -> list[Path]:
    """Write instructions.json and instructions.md into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    data, text = out / "instructions.json", out / "instructions.md"
    data.write_text(json.dumps(summary, indent=2) + "\n")
    text.write_text(table(summary) + "\n" + stamp(summary["meta"]) + "\n")
    return [data, text]


def _cases(text: str) -> tuple[Case, ...]:
    names = [part.strip() for part in text.split(",")]
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown case(s) {', '.join(unknown)}")
    return tuple(BY_NAME[name] for name in names)


def parser() -> argparse.ArgumentParser:
    """Return the command line's parser."""
    command = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--smoke", action="store_true", help="a few requests, one run: does it work?"
    )
    command.add_argument("--requests", type=int, help="counted requests per case [2000]")
    command.add_argument("--warmup", type=int, default=50, help="uncounted requests first [50]")
    command.add_argument("--runs", type=int, help="fresh measurements of each case [2]")
    command.add_argument(
        "--jobs", type=int, default=2, help="servers measured at the same time [2]"
    )
    command.add_argument(
        "--cases",
        type=_cases,
        default=CASES,
        help=f"which cases, comma-separated [{','.join(BY_NAME)}]",
    )
    command.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results",
        help="directory for instructions.json and .md [benchmarks/results]",
    )
    return command


def main(argv: list[str] | None = None) -> int:
    """Count every case; print the table; return 0, or 1 if a case failed."""
    arguments = parser().parse_args(argv)
    missing = [name for name in ("valgrind", "callgrind_control") if shutil.which(name) is None]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} not found: apt-get install valgrind")
    requests = arguments.requests or (20 if arguments.smoke else 2000)
    runs = arguments.runs or (1 if arguments.smoke else 2)
    began = time.monotonic()
    measured, httpbin_python = measure(
        arguments.cases, requests, arguments.warmup, runs, max(1, arguments.jobs)
    )
    meta = metadata(requests, arguments.warmup, runs, httpbin_python)
    meta["seconds"] = round(time.monotonic() - began, 1)
    summary = summarize(arguments.cases, measured, meta)
    paths = write(summary, arguments.out)
    print(table(summary))
    print(stamp(meta))
    note(f"wrote {', '.join(str(path) for path in paths)} in {meta['seconds']:g} s")
    return 1 if measured.failures else 0


if __name__ == "__main__":
    sys.exit(main())
