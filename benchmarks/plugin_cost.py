"""`python -m benchmarks.plugin_cost`: what the status_service fixture adds to a pytest session.

docs/testing.md says that starting the fixture's server adds at most 0.6 s to
a test session. This times whole processes, as a user meets them: in a
fresh virtual environment (fresh_env.py: requirements.txt, the project's
wheel and pytest), from a folder holding two files of one test each, it runs

    python -m pytest -q -p no:cacheprovider test_with.py      # asks for status_service
    python -m pytest -q -p no:cacheprovider test_without.py   # does not

one after the other, round after round: first one round that is not counted
(it fills the file cache and writes the .pyc files), then `--rounds` counted
ones. Each round's difference, with less without, is what the fixture added
in that round; the figure is the median of those differences, so a machine
whose load drifts biases neither kind. Writes plugin_cost.json and
plugin_cost.md.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import provenance, venvs
from .fresh_env import build_wheel, fresh_environment, user_environment
from .goals import MET, meets
from .process import ROOT
from .suite import note

ROUNDS = 15
# The requirement: the most a session may take longer for the fixture.
GOAL = "<= 0.6"
TARGET = "seconds starting `status_service` adds to a session"
# A whole pytest session, the server's start and stop included, on a busy machine.
SESSION_TIMEOUT = 240.0
# The two sessions' only test file each; "with" and "without" are also their names.
SESSIONS = {
    "without": "def test_it():\n    assert True\n",
    "with": "def test_it(status_service):\n    assert status_service.url\n",
}
LABELS = {"without": "without the fixture", "with": "with the fixture"}
# Run by the measured environment's interpreter: the versions it holds, not this one's.
VERSIONS = """
import json, platform, sys
from importlib.metadata import PackageNotFoundError, version

def found(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None

print(json.dumps({**{name: found(name) for name in sys.argv[1:]},
                  "python": platform.python_version()}))
"""


def session(bin_dir: Path, folder: Path, kind: str) -> float:
    """Run the one-test session `kind` in `folder` with `bin_dir`'s Python; its wall seconds."""
    command = [str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command.append(f"test_{kind}.py")
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=folder,
        env=user_environment(bin_dir),
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-3000:]
        raise RuntimeError(f"the session {kind} the fixture exited {result.returncode}:\n{output}")
    return seconds


def time_sessions(bin_dir: Path, rounds: int) -> dict[str, list[float]]:
    """Time both sessions in turn, one uncounted round and `rounds` counted; the seconds."""
    walls: dict[str, list[float]] = {kind: [] for kind in SESSIONS}
    with tempfile.TemporaryDirectory(prefix="plugin_cost_") as scratch:
        folder = Path(scratch)
        for kind, text in SESSIONS.items():
            (folder / f"test_{kind}.py").write_text(text)
        for number in range(rounds + 1):
            taken = {kind: session(bin_dir, folder, kind) for kind in SESSIONS}
            shown = ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in taken.items())
            note(f"round {number} of {rounds}: {shown}" + ("" if number else " (warm-up)"))
            if number:
                for kind, seconds in taken.items():
                    walls[kind].append(seconds)
    return walls


def environment_versions(bin_dir: Path) -> dict[str, str | None]:
    """Return the versions of Python, pytest and the served distributions in `bin_dir`'s env."""
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", VERSIONS, *provenance.SERVED, "pytest"],
        capture_output=True,
        text=True,
        check=True,
    )
    versions: dict[str, str | None] = json.loads(result.stdout)
    return versions


def metadata(bin_dir: Path, rounds: int, given: Path | None) -> dict[str, object]:
    """Return when, on what, in which environment and with which versions the run was taken."""
    return {
        "date": provenance.now(),
        "machine": provenance.machine(),
        "versions": environment_versions(bin_dir),
        "commit": provenance.commit(),
        # None: one made for this run.
        "environment": str(given) if given else None,
        "rounds": rounds,
        "command": "python -m pytest -q -p no:cacheprovider test_<with|without>.py",
    }


def _figures(seconds: list[float]) -> dict[str, object]:
    return {
        "seconds": [round(value, 3) for value in seconds],
        "median_s": round(statistics.median(seconds), 3),
    }


def summarize(walls: dict[str, list[float]], meta: dict[str, object]) -> dict[str, object]:
    """Return the run as one JSON-ready dict: every session, the medians, the added cost."""
    added = [a - b for a, b in zip(walls["with"], walls["without"], strict=True)]
    cost = round(statistics.median(added), 3)
    return {
        "meta": meta,
        "sessions": {kind: _figures(seconds) for kind, seconds in walls.items()},
        "added": _figures(added),
        "target": {"target": TARGET, "measured": cost, "goal": GOAL, "met": meets(cost, GOAL)},
    }


def table(summary: dict[str, object]) -> str:
    """Return the run as Markdown: the sessions' medians and rounds, then the target."""
    meta, target = summary["meta"], summary["target"]
    where = (
        f"the environment {meta['environment']}"
        if meta["environment"]
        else "a fresh virtual environment"
    )
    rows = [(LABELS[kind], figures) for kind, figures in summary["sessions"].items()]
    rows.append(("added by the fixture", summary["added"]))
    lines = ["| one-test session | median | each round |", "|---|---:|---|"]
    for label, figures in rows:
        each = " ".join(f"{value:.2f}" for value in figures["seconds"])
        lines.append(f"| {label} | {figures['median_s']:.2f} s | {each} |")
    lines += [
        "",
        f"Wall seconds of `{meta['command']}` from a folder of its own, in"
        f" {where}; {meta['rounds']} round(s) of both in turn after one uncounted; the"
        " added time is the median of the rounds' differences.",
        "",
        "| target | measured | goal | met |",
        "|---|---:|---:|:---:|",
        f"| {target['target']} | {target['measured']:.2f} | {target['goal']}"
        f" | {MET[target['met']]} |",
    ]
    return "\n".join(lines) + "\n"


def stamp(meta: dict[str, object]) -> str:
    """Return one line saying when, where and with what the sessions were timed."""
    machine = meta["machine"]
    where = f"{machine['cpu']}, {machine['cores']} cores, {machine['system']}"
    return provenance.stamp(meta, where, ("pytest",))


def report(summary: dict[str, object]) -> str:
    """Return the table and the line saying where: what is printed, and plugin_cost.md."""
    return f"{table(summary)}\n{stamp(summary['meta'])}\n"


def write(summary: dict[str, object], out: Path) -> list[Path]:
    """Write plugin_cost.json (every figure) and plugin_cost.md into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        out / "plugin_cost.json": json.dumps(summary, indent=2) + "\n",
        out / "plugin_cost.md": report(summary),
    }
    for path, text in files.items():
        path.write_text(text)
    return list(files)


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return number


def parser() -> argparse.ArgumentParser:
    """Return the command line's parser."""
    command = argparse.ArgumentParser(
        prog="python -m benchmarks.plugin_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("--smoke", action="store_true", help="one round: does it work?")
    command.add_argument("--rounds", type=_positive, help=f"counted rounds [{ROUNDS}]")
    command.add_argument(
        "--venv",
        type=Path,
        help="time in this virtual environment (it holds the package and pytest)"
        " instead of making a fresh one",
    )
    command.add_argument(
        "--wheel", type=Path, help="install this wheel in the fresh environment, not a new build"
    )
    command.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results",
        help="directory for plugin_cost.json and .md [benchmarks/results]",
    )
    return command


def main(argv: list[str] | None = None) -> int:
    """Time the sessions; print the table and the line saying where; return 0."""
    arguments = parser().parse_args(argv)
    rounds = arguments.rounds or (1 if arguments.smoke else ROUNDS)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="plugin_cost_env_") as scratch:
        if arguments.venv:
            bin_dir = arguments.venv.resolve() / "bin"
        else:
            note("building the wheel and a fresh environment")
            wheel = arguments.wheel or build_wheel(Path(scratch) / "wheel")
            bin_dir = fresh_environment(Path(scratch) / "env", wheel, [venvs.installed("pytest")])
        walls = time_sessions(bin_dir, rounds)
        meta = metadata(bin_dir, rounds, arguments.venv)
    meta["seconds"] = round(time.monotonic() - began, 1)
    summary = summarize(walls, meta)
    paths = write(summary, arguments.out)
    print(report(summary), end="")
    note(f"wrote {', '.join(str(path) for path in paths)} in {meta['seconds']:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
