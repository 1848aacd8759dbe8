"""A crowd of late answers against a real server: do they all come when due, does a greeting wait?

crowd() opens `count` connections at once, each asking for a delayed answer,
and while they wait it greets every GREET_EVERY seconds on a fresh
connection. It samples the server process's threads and resident memory as
it goes, and reads the kernel's listen-queue overflow counters before and
after. It reports timings and does not judge them: the benchmark suite
records them (docs/benchmarks.md), and tests/test_crowd.py checks what does
not depend on the machine's load.

Run `python -m benchmarks.crowd` for the crowds of docs/benchmarks.md.
"""

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
GREET_EVERY = 0.02
SAMPLE_EVERY = 0.02
# A safety net against a server that never answers, not a judgement.
ANSWER_SECONDS = 60.0
# The crowds of docs/benchmarks.md: what each asks for, and how many at once.
CROWDS = {
    "sleep": ("/status/200?sleep=1000", 1000),
    "stall": ("/status/200?stall=1000", 300),
    # 20,000 bytes at 20,000 bytes a second: one second, in 20 paced pieces.
    "paced": ("/status/200?size=20000&rate=20000", 200),
}


@dataclass
class Answer:
    """One request of the crowd: when it was sent and answered (monotonic), and with what."""

    sent: float = 0.0
    arrived: float = 0.0
    status: int | None = None
    length: int = 0
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.arrived - self.sent


@dataclass
class CrowdReport:
    """What a crowd saw: its answers, the greetings' latencies, the server's threads and memory."""

    answers: list[Answer]
    greetings: list[float]
    threads: tuple[int, int]  # before the crowd, and the most during it
    rss_kib: tuple[int, int]  # before the crowd, and the most during it
    overflows: int  # listen-queue overflows and drops counted by the kernel meanwhile
    failed_greetings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        seconds = sorted(answer.seconds for answer in self.answers if answer.status)
        return {
            "answered": sum(1 for answer in self.answers if answer.status == 200),
            "first_s": seconds[0] if seconds else float("nan"),
            "last_s": seconds[-1] if seconds else float("nan"),
            "greetings": len(self.greetings),
            "greeting_median_ms": 1000 * statistics.median(self.greetings or [float("nan")]),
            "greeting_max_ms": 1000 * max(self.greetings or [float("nan")]),
            "extra_threads": self.threads[1] - self.threads[0],
            "extra_rss_mib": (self.rss_kib[1] - self.rss_kib[0]) / 1024,
            "overflows": self.overflows,
        }


def listen_overflows() -> int:
    """Return the kernel's count of connections its listen queues overflowed or dropped."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            counts = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(counts["ListenOverflows"]) + int(counts["ListenDrops"])
    return 0


def threads_and_rss(pid: int) -> tuple[int, int]:
    """Return the threads of process `pid` and its resident memory in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("Threads", "VmRSS"):
            found[name] = int(value.split()[0])
    return found["Threads"], found["VmRSS"]


async def _ask(port: int, path: str, answer: Answer) -> None:
    """Ask `path` on a fresh connection and read the answer to its end, into `answer`."""
    request = f"GET {path} HTTP/1.1\r\nHost: crowd\r\nConnection: close\r\n\r\n".encode()
    try:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        try:
            # Taken before the request is written: the server cannot have it
            # earlier, however long this process is kept off the CPU after.
            answer.sent = time.monotonic()
            writer.write(request)
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), ANSWER_SECONDS)
            answer.arrived = time.monotonic()
        finally:
            writer.close()
    except (OSError, asyncio.TimeoutError) as error:
        answer.error = type(error).__name__
        return
    head, _, body = data.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 "):
        answer.status = int(head[9:12])
        answer.length = len(body)


async def _crowd(port: int, pid: int, path: str, count: int) -> CrowdReport:
    before = threads_and_rss(pid)
    overflows = listen_overflows()
    answers = [Answer() for _ in range(count)]
    crowd = [asyncio.ensure_future(_ask(port, path, answer)) for answer in answers]
    most = list(before)
    greetings: list[float] = []
    failed: list[str] = []
    pending: set[asyncio.Future[None]] = set()

    async def greet() -> None:
        began = time.monotonic()
        answer = Answer()
        await _ask(port, "/", answer)
        if answer.status == 200:
            greetings.append(time.monotonic() - began)
        else:
            failed.append(answer.error or f"status {answer.status}")

    next_greeting = time.monotonic()
    while not all(task.done() for task in crowd):
        now = time.monotonic()
        if now >= next_greeting:
            next_greeting = now + GREET_EVERY
            task = asyncio.ensure_future(greet())
            pending.add(task)
            task.add_done_callback(pending.discard)
        threads, rss = threads_and_rss(pid)
        most = [max(most[0], threads), max(most[1], rss)]
        await asyncio.sleep(SAMPLE_EVERY)
    await asyncio.gather(*pending)
    return CrowdReport(
        answers,
        greetings,
        (before[0], most[0]),
        (before[1], most[1]),
        listen_overflows() - overflows,
        failed,
    )


def crowd(port: int, pid: int, path: str, count: int) -> CrowdReport:
    """Send `count` requests for `path` at once to server `pid` on `port`, greeting meanwhile."""
    return asyncio.run(_crowd(port, pid, path, count))


def main() -> None:
    """Run each crowd of CROWDS against a fresh `simple-flask serve` on default settings."""
    import subprocess
    import urllib.request

    from simple_flask.testing.processes import free_port, server_environment, stop, wait_for

    for name, (path, count) in CROWDS.items():
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "simple_flask", "serve", "--port", str(port)],
            env=server_environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://{LOOPBACK}:{port}/healthz"
            wait_for(lambda url=url: urllib.request.urlopen(url, timeout=5), 30, process)
            report = crowd(port, process.pid, path, count)
        finally:
            stop(process)
        figures = ", ".join(f"{key} {value:.3g}" for key, value in report.summary().items())
        print(f"{name} x{count} {path}: {figures}")


if __name__ == "__main__":
    main()
