"""Drive a server with wrk and read its figures back as numbers."""

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

# Every server gets the same request: the Origin header of a browser's
# cross-origin fetch, so that the service's CORS handling does its full work.
ORIGIN = "https://example.com"

_COMMON = f"""\
-- Written by the benchmark suite; the same request goes to every server.
wrk.headers["Origin"] = "{ORIGIN}"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d, "
    .. "\\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, "
    .. "\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

# Stops wrk (one thread) after the number of responses given as its argument,
# so that memory is sampled after an exact number of requests. A stopped
# thread alone would leave wrk waiting out its duration; SIGINT to wrk (the
# shell's parent) ends the run at once, with its figures printed as usual. It
# is sent from the background, because system() ignores SIGINT until it returns.
_COUNTING = """
local limit = 0
local count = 0

function init(args)
  limit = tonumber(args[1])
end

function response(status, headers, body)
  count = count + 1
  if count == limit then
    wrk.thread:stop()
    os.execute("(sleep 0.1; kill -INT $PPID) &")
  end
end
"""


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # Responses outside 2xx and 3xx (every one, on a 418 route).
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, object]:
        """Return the figures as a JSON-ready dict."""
        return asdict(self)


def write_scripts(directory: Path) -> tuple[Path, Path]:
    """Write the Lua scripts wrk runs (timed load, counted load); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    timed, counted = directory / "timed.lua", directory / "counted.lua"
    timed.write_text(_COMMON)
    counted.write_text(_COMMON + _COUNTING)
    return timed, counted


def parse(output: str) -> Load:
    """Read the line the scripts' done() prints from wrk's output."""
    for line in output.splitlines():
        if line.startswith("BENCH "):
            raw = json.loads(line[len("BENCH ") :])
            break
    else:
        raise RuntimeError(f"wrk printed no figures:\n{output}")
    seconds = raw["duration_us"] / 1e6
    return Load(
        requests=raw["requests"],
        seconds=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non_2xx=raw["status"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
    )


def run_wrk(
    url: str,
    connections: int,
    script: Path,
    seconds: int,
    cpu: int | None = None,
    count: int | None = None,
) -> Load:
    """Load `url` with `connections` keep-alive connections for `seconds` (or `count` answers)."""
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(script),
        url,
    ]
    if count is not None:
        command += ["--", str(count)]
    if cpu is not None:
        command = ["taskset", "--cpu-list", str(cpu), *command]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return parse(result.stdout)
