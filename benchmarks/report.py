"""A wrk run's report: what it was taken on, and the JSON, Markdown and plot it is written to.

The figures come from summary.py, the tables from table.py, the plot from
plot.py; this module ties them to the run's metadata and files.
"""

import json
from pathlib import Path

from . import provenance
from .plot import plot
from .suite import Plan, Results
from .table import table


def metadata(plan: Plan, results: Results, venv_path: list[str] | None) -> dict[str, object]:
    """Return when, on what and with which versions the run was taken."""
    found = provenance.versions(venv_path)
    found["wrk"] = provenance.tool_version(["wrk", "--version"], word=1)
    return {
        "date": provenance.now(),
        "machine": {
            **provenance.machine(),
            "server_cpu": results.cpus[0],
            "wrk_cpu": results.cpus[1],
        },
        "versions": found,
        "commit": provenance.commit(),
        "plan": {
            "servers": [t.name for t in plan.targets],
            "rounds": plan.rounds,
            "duration_s": plan.duration,
            "connections": list(plan.connections),
            "warmup_s": plan.warmup,
            "starts": plan.starts,
            "memory_requests": plan.memory_requests,
            "memory_connections": plan.memory_connections,
        },
        # Every server ran with these, the service's production options.
        "waitress": provenance.waitress(),
        "seconds": results.seconds,
    }


def stamp(meta: dict[str, object]) -> str:
    """Return one line saying when, where and with what a run was taken."""
    machine = meta["machine"]
    pinned = (
        f"server on CPU {machine['server_cpu']}, wrk on CPU {machine['wrk_cpu']}"
        if machine["server_cpu"] is not None
        else "not pinned"
    )
    where = f"{machine['cpu']}, {machine['cores']} cores, {machine['system']}, {pinned}"
    return provenance.stamp(meta, where, ("wrk",))


def write(summary: dict[str, object], out: Path) -> dict[str, Path]:
    """Write the JSON, the Markdown table and the plot into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "benchmarks.json",
        "table": out / "benchmarks.md",
        "plot": out / "benchmarks.png",
    }
    paths["json"].write_text(json.dumps(summary, indent=2) + "\n")
    paths["table"].write_text(table(summary) + "\n" + stamp(summary["meta"]) + "\n")
    plot(summary, stamp(summary["meta"]), paths["plot"])
    return paths
