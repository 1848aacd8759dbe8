"""`python -m benchmarks`: run the servers side by side and print the table."""

import argparse
import json
import sys
from pathlib import Path

from . import report, venvs
from .instructions.cli import main as count_instructions
from .process import ROOT
from .suite import Plan, Suite, note
from .summary import summarize
from .table import table
from .targets import BY_NAME, TARGETS


def _widths(text: str) -> tuple[int, ...]:
    widths = tuple(int(part) for part in text.split(","))
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError("expected positive integers such as 8,64,256")
    return widths


def _servers(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown server(s) {', '.join(unknown)}")
    return names


def parser() -> argparse.ArgumentParser:
    """Return the command line's parser."""
    full = Plan(targets=TARGETS, out=Path())
    command = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Benchmark simple_flask against a bare WSGI callable, a minimal Flask app and"
            " httpbin, all on waitress with the service's production options, loaded by wrk."
        ),
    )
    command.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under callgrind instead; the options that"
        " follow are those of python -m benchmarks.instructions (see its --help)",
    )
    command.add_argument(
        "--smoke",
        action="store_true",
        help="a run of a few seconds per server that only checks the suite works",
    )
    command.add_argument("--rounds", type=int, help=f"alternating rounds [{full.rounds}]")
    command.add_argument("--duration", type=int, help=f"seconds of each load [{full.duration}]")
    command.add_argument(
        "--connections",
        type=_widths,
        help="concurrent connections, comma-separated [8,64,256]",
    )
    command.add_argument("--starts", type=int, help=f"cold starts timed per server [{full.starts}]")
    command.add_argument(
        "--memory-requests",
        type=int,
        help=f"requests of the memory run, sampled at each third [{full.memory_requests}]",
    )
    command.add_argument(
        "--servers",
        type=_servers,
        default=tuple(BY_NAME),
        help="which servers, comma-separated [bare,flask,httpbin,service,service-redis]",
    )
    command.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results",
        help="directory for benchmarks.json, .md and .png [benchmarks/results]",
    )
    command.add_argument(
        "--log", type=Path, help="keep the servers' output in this directory, not /dev/null"
    )
    command.add_argument(
        "--no-pin", action="store_true", help="do not pin the server and wrk to separate cores"
    )
    command.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: write the table and plot of an earlier run's JSON into --out",
    )
    return command


def plan_from(arguments: argparse.Namespace) -> Plan:
    """Return the Plan the command line asks for."""
    values: dict[str, object] = {}
    if arguments.smoke:
        values.update(
            rounds=1, duration=1, connections=(8,), warmup=0, starts=1, memory_requests=3000
        )
    chosen = {
        "rounds": arguments.rounds,
        "duration": arguments.duration,
        "connections": arguments.connections,
        "starts": arguments.starts,
        "memory_requests": arguments.memory_requests,
    }
    values.update({key: value for key, value in chosen.items() if value is not None})
    if arguments.log:
        arguments.log.mkdir(parents=True, exist_ok=True)
    return Plan(
        targets=tuple(t for t in TARGETS if t.name in arguments.servers),
        out=arguments.out,
        pin=not arguments.no_pin,
        log=arguments.log,
        **values,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the suite; print the table; return 0, or 1 if a server failed."""
    argv = sys.argv[1:] if argv is None else argv
    if "--instructions" in argv:
        # A mode of its own, with its own options.
        return count_instructions([word for word in argv if word != "--instructions"])
    arguments = parser().parse_args(argv)
    if arguments.render:
        summary = json.loads(arguments.render.read_text())
        report.write(summary, arguments.out)
        print(table(summary))
        print(report.stamp(summary["meta"]))
        return 0
    plan = plan_from(arguments)
    results = Suite(plan).run()
    venv_path = None
    if "httpbin" in plan_names(plan) and "httpbin" not in results.failures:
        venv_path = [str(venvs.purelib(plan.venv / "bin" / "python"))]
    summary = summarize(plan, results, report.metadata(plan, results, venv_path))
    paths = report.write(summary, plan.out)
    print(table(summary))
    print(report.stamp(summary["meta"]))
    note(f"wrote {', '.join(str(path) for path in paths.values())} in {results.seconds:g} s")
    return 1 if results.failures else 0


def plan_names(plan: Plan) -> set[str]:
    """Return the names of the servers in `plan`."""
    return {target.name for target in plan.targets}


if __name__ == "__main__":
    sys.exit(main())
