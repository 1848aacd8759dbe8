"""Every case counted, each `runs` times in fresh processes, a few servers at once."""

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import venvs
from ..suite import Plan, note
from .callgrind import count
from .cases import Case


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
