"""`python -m benchmarks.instructions`: machine instructions per request, counted by callgrind.

Seconds on a shared machine move with its other jobs; instructions do not.
For each case (cases.py: a server, a route, sometimes a setting) this counts the
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
import shutil
import time
from pathlib import Path

from ..process import ROOT
from ..suite import note
from .cases import BY_NAME, CASES, Case
from .measure import measure
from .report import metadata, stamp, summarize, table, write


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
