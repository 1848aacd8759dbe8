"""The measurements: alternating load rounds, cold starts, memory under load, installed size."""

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from simple_flask.testing.redis_server import RedisServer, RedisUnavailable, running_redis

from . import process, sizes, venvs
from .load import Load, run_wrk, write_scripts
from .targets import EXPECTED_STATUS, Target


@dataclass(frozen=True)
class Plan:
    """How much to measure; the defaults are the full run."""

    targets: tuple[Target, ...]
    out: Path
    rounds: int = 3
    duration: int = 3
    connections: tuple[int, ...] = (8, 64, 256)
    warmup: int = 1
    starts: int = 5
    memory_requests: int = 150_000
    memory_connections: int = 64
    pin: bool = True
    log: Path | None = None
    venv: Path = process.ROOT / "benchmarks" / "results" / "httpbin-venv"


@dataclass
class Results:
    """Everything one run measured, keyed by server name (and route, connections)."""

    # (server, route, connections) -> one Load per round
    loads: dict[tuple[str, str, int], list[Load]] = field(default_factory=dict)
    # (server, route) -> the status code the server answered before being loaded
    answered: dict[tuple[str, str], int] = field(default_factory=dict)
    cold_starts: dict[str, list[float]] = field(default_factory=dict)
    # server -> [(requests served so far, VmRSS KiB)]
    memory: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    sizes: dict[str, dict[str, object]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    cpus: tuple[int | None, int | None] = (None, None)
    seconds: float = 0.0


def note(message: str) -> None:
    """Report progress on stderr, keeping stdout for the table."""
    print(message, file=sys.stderr, flush=True)


def pick_cpus(pin: bool) -> tuple[int | None, int | None]:
    """Return the cores for the server and for wrk; (None, None) with one core or no taskset."""
    cores = sorted(os.sched_getaffinity(0))
    if not pin or len(cores) < 2 or shutil.which("taskset") is None:
        return None, None
    return cores[0], cores[1]


class Suite:
    """Runs a Plan and collects its Results."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.results = Results(cpus=pick_cpus(plan.pin))
        self.pythons: dict[str, Path] = {}
        self.redis: RedisServer | None = None
        # Why no Redis runs, when a target needs one: that target alone fails.
        self.redis_failure = "no Redis was started"

    def run(self) -> Results:
        """Measure every phase for every target that starts; return the results."""
        with contextlib.ExitStack() as stack:
            scripts = stack.enter_context(tempfile.TemporaryDirectory(prefix="benchmarks-wrk-"))
            self.timed, self.counted = write_scripts(Path(scripts))
            # One Redis for the run, if a target keeps its sequences there.
            if any(target.redis for target in self.plan.targets):
                try:
                    self.redis = stack.enter_context(running_redis(prefix="benchmarks-redis-"))
                except RedisUnavailable as error:
                    self.redis_failure = str(error)
            return self._run()

    def _run(self) -> Results:
        began = time.monotonic()
        self.prepare()
        for number in range(1, self.plan.rounds + 1):
            for target in self.live():
                self.guard(target, self.load_round, target, number)
        for _ in range(self.plan.starts):
            for target in self.live():
                self.guard(target, self.cold_start, target)
        for target in self.live():
            self.guard(target, self.memory, target)
        for target in self.live():
            self.guard(target, self.size, target)
        self.results.seconds = round(time.monotonic() - began, 1)
        return self.results

    def live(self) -> list[Target]:
        """Return the targets that have not failed so far, in the plan's order."""
        return [t for t in self.plan.targets if t.name not in self.results.failures]

    def guard(self, target: Target, step, *args) -> None:
        """Run one step; a failure drops the target from the rest of the run, not the run."""
        try:
            step(*args)
        except Exception as error:
            self.results.failures[target.name] = f"{type(error).__name__}: {error}"
            note(f"{target.name}: failed: {error}")

    def prepare(self) -> None:
        """Find each target's interpreter, building httpbin's environment if needed."""
        for target in self.plan.targets:
            if target.own_venv:
                note(f"{target.name}: preparing its environment in {self.plan.venv}")
                self.guard(target, self._own_python, target)
            else:
                self.pythons[target.name] = Path(sys.executable)

    def _own_python(self, target: Target) -> None:
        self.pythons[target.name] = venvs.httpbin_python(self.plan.venv)

    def start(self, target: Target) -> process.Running:
        """Start `target` pinned to the server core."""
        log = self.plan.log / f"{target.name}.log" if self.plan.log else None
        settings = {}
        if target.redis:
            if self.redis is None:
                raise RuntimeError(self.redis_failure)
            # Each start begins with an empty Redis, as each start of a
            # memory-store server begins with no sequence.
            self.redis.command("FLUSHALL")
            settings["SIMPLE_FLASK_STATE_URL"] = self.redis.url
        return process.start(
            target, self.pythons[target.name], self.results.cpus[0], log=log, settings=settings
        )

    def wrk(self, url: str, connections: int, seconds: int, count: int | None = None) -> Load:
        """Run wrk pinned to its own core."""
        script = self.timed if count is None else self.counted
        return run_wrk(url, connections, script, seconds, self.results.cpus[1], count)

    def load_round(self, target: Target, number: int) -> None:
        """One round for `target`: start it, check its answers, load each route at each width."""
        running = self.start(target)
        try:
            for route in target.routes:
                status, _, _ = process.get(running.port, route)
                self.results.answered[(target.name, route)] = status
                if status != EXPECTED_STATUS[route]:
                    note(f"{target.name}: {route} answered {status}, not {EXPECTED_STATUS[route]}")
            if self.plan.warmup:
                self.wrk(running.url(target.routes[0]), 64, self.plan.warmup)
            for route in target.routes:
                for connections in self.plan.connections:
                    load = self.wrk(running.url(route), connections, self.plan.duration)
                    self.results.loads.setdefault((target.name, route, connections), []).append(
                        load
                    )
                    note(
                        f"round {number}/{self.plan.rounds} {target.name:8} {route:12}"
                        f" c={connections:<4} {load.rps:>9,.0f} rps"
                        f"  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:7.2f} ms"
                    )
        finally:
            running.stop()

    def cold_start(self, target: Target) -> None:
        """Time one start of `target`, from process start to its first answer."""
        running = self.start(target)
        running.stop()
        self.results.cold_starts.setdefault(target.name, []).append(running.cold_start)
        note(f"cold start {target.name:8} {running.cold_start * 1000:7.1f} ms")

    def memory(self, target: Target) -> None:
        """Drive `target` through three equal legs of requests, sampling VmRSS after each."""
        running = self.start(target)
        leg = max(1, self.plan.memory_requests // 3)
        served = 0
        samples = [(0, running.rss_kib())]
        try:
            for _ in range(3):
                # A generous ceiling: the counting script stops wrk after `leg` answers.
                load = self.wrk(
                    running.url(target.routes[0]), self.plan.memory_connections, 600, leg
                )
                served += load.requests
                samples.append((served, running.rss_kib()))
                note(f"memory {target.name:8} {served:>8,} requests  {samples[-1][1]:>7,} KiB")
        finally:
            running.stop()
        self.results.memory[target.name] = samples

    def size(self, target: Target) -> None:
        """Measure the installed size of `target`'s run-time closure."""
        path = None
        if target.own_venv:
            path = [str(venvs.purelib(self.pythons[target.name]))]
        self.results.sizes[target.name] = sizes.measure(target.distributions, path)


def median(values: list[float]) -> float:
    """Return the median of `values`."""
    return statistics.median(values)
