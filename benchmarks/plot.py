"""A wrk run's summary drawn: throughput and p99 latency against connections, a line a series."""

from pathlib import Path

from .targets import SEQUENCE, STATUS


def plot(summary: dict[str, object], stamp: str, path: Path) -> None:
    """Draw throughput and p99 latency against connections, one line per server and route.

    `stamp` (when, where and with what the run was taken) goes under the plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 5.2))
    series: dict[tuple[str, str], list[dict]] = {}
    for entry in summary["loads"]:
        series.setdefault((entry["server"], entry["route"]), []).append(entry)
    # One colour per server; the status route dashed, the sequence route dotted.
    colours = {name: f"C{i}" for i, name in enumerate(summary["meta"]["plan"]["servers"])}
    for (server, route), entries in series.items():
        entries.sort(key=lambda e: e["connections"])
        label = f"{summary['servers'][server]['label']} {route}"
        line = {STATUS: "--", SEQUENCE: ":"}.get(route, "-")
        style = {"linestyle": line, "color": colours[server]}
        widths = [e["connections"] for e in entries]
        left.plot(widths, [e["rps"] for e in entries], marker="o", label=label, **style)
        right.plot(widths, [e["p99_ms"] for e in entries], marker="o", label=label, **style)
    widths = summary["meta"]["plan"]["connections"]
    for axes, title, unit in (
        (left, "Throughput", "requests per second"),
        (right, "p99 latency", "milliseconds"),
    ):
        axes.set_title(title)
        axes.set_xlabel("concurrent connections")
        axes.set_ylabel(unit)
        axes.set_xscale("log", base=2)
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    figure.suptitle("simple_flask against the alternatives, all on waitress with the same options")
    figure.text(0.5, 0.01, stamp, ha="center", fontsize=7, wrap=True)
    figure.tight_layout(rect=(0, 0.05, 1, 0.95))
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
