"""`python -m benchmarks.profile`: where a server's time goes, before and after a change.

Two views:
- sampled (default): py-spy samples the thread holding the GIL of a server
  under wrk load, as the suite runs it; prints the frames with the largest
  share and writes the stacks (flamegraph SVG and collapsed text) to --out.
- --in-process: calls each app's WSGI callable directly, without a server,
  and prints microseconds per request (best of several runs), then the
  service's most expensive functions under cProfile. No sockets, no other
  process: steady enough to see a few microseconds won or lost.
"""

import argparse
import collections
import contextlib
import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import timeit
from pathlib import Path

from . import process
from .load import run_wrk, write_scripts
from .process import ROOT
from .suite import pick_cpus
from .targets import BY_NAME, GREETING, STATUS


def _share(path: Path, top: int) -> str:
    """Summarise py-spy's collapsed stacks: inclusive and own share of each frame."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"{total} samples of the thread holding the GIL", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "own:"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top // 2)]
    return "\n".join(lines)


def sampled(name: str, route: str, seconds: int, connections: int, out: Path, top: int) -> None:
    """Profile server `name` with py-spy while wrk loads `route`."""
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    target = BY_NAME[name]
    if target.own_venv:
        raise SystemExit(f"{name} runs from its own environment; profile it with py-spy by hand")
    server_cpu, wrk_cpu = pick_cpus(True)
    timed, _ = write_scripts(out)
    running = process.start(target, Path(sys.executable), server_cpu)
    try:
        run_wrk(running.url(route), connections, timed, 1, wrk_cpu)
        collapsed = out / f"{name}.collapsed.txt"
        spy_command = [
            *("py-spy", "record", "--gil", "--nonblocking", "--rate", "500"),
            *("--duration", str(seconds), "--format", "raw", "--output", str(collapsed)),
            *("--pid", str(running.process.pid)),
        ]
        spy = subprocess.Popen(
            spy_command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        load = run_wrk(running.url(route), connections, timed, seconds, wrk_cpu)
        _, error = spy.communicate(timeout=seconds + 60)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {error.decode(errors='replace')}")
    finally:
        running.stop()
    print(f"{name} {route} at {connections} connections: {load.rps:,.0f} rps\n")
    print(_share(collapsed, top))
    print(f"\nstacks: {collapsed}")


def _apps() -> dict[str, object]:
    from simple_flask.core.settings import Settings
    from simple_flask.rest import create_app

    from .servers import bare, minimal_flask

    return {
        "bare": bare.app,
        "flask": minimal_flask.app,
        "service": create_app({"SETTINGS": Settings()}),
    }


def _caller(app, path: str):
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, headers={"Origin": "https://example.com"})
    environ = builder.get_environ()

    def start_response(status, headers, exc_info=None):
        return None

    def call():
        body = app(dict(environ), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return call


def in_process(requests: int, top: int) -> None:
    """Print each app's cost per request without a server, then the service's profile."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        apps = _apps()
        costs = {}
        for name, route in (
            ("bare", GREETING),
            ("flask", GREETING),
            ("service", GREETING),
            ("service", STATUS),
        ):
            call = _caller(apps[name], route)
            call()
            best = min(timeit.repeat(call, number=requests, repeat=5))
            costs[(name, route)] = best / requests * 1e6
        profiler = cProfile.Profile()
        call = _caller(apps["service"], GREETING)
        profiler.enable()
        for _ in range(requests):
            call()
        profiler.disable()
    for (name, route), micros in costs.items():
        print(f"{micros:8.1f} us per request  {name} {route}")
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\ncProfile of the service, {GREETING} ({requests} requests):")
    print(report.getvalue().replace(str(ROOT) + "/", ""))


def main(argv: list[str] | None = None) -> None:
    """Run the profile the command line asks for."""
    command = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    command.add_argument("--in-process", action="store_true", help="time WSGI calls directly")
    command.add_argument("--server", default="service", choices=["bare", "flask", "service"])
    command.add_argument("--route", default=GREETING)
    command.add_argument("--seconds", type=int, default=10)
    command.add_argument("--connections", type=int, default=64)
    command.add_argument("--requests", type=int, default=20_000)
    command.add_argument("--top", type=int, default=40, help="how many frames to list")
    command.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "profile")
    arguments = command.parse_args(argv)
    if arguments.in_process:
        in_process(arguments.requests, arguments.top)
        return
    arguments.out.mkdir(parents=True, exist_ok=True)
    sampled(
        arguments.server,
        arguments.route,
        arguments.seconds,
        arguments.connections,
        arguments.out,
        arguments.top,
    )


if __name__ == "__main__":
    main()
