"""Crowds of late answers against start.py on default settings: no thread held, none refused.

A thousand sleepers, three hundred stalled bodies and two hundred paced ones
are sent at once (benchmarks/crowd.py) while greetings go on. What holds
whatever the machine's load is asserted: every answer is 200, complete, and
none came before it was due; the server started no thread for them and grew
by less than 40 MiB; greetings were all answered; and the kernel counted no
listen-queue overflow, so no client was left to retry its SYN. How long the
answers and greetings took is measured by the benchmark suite
(`python -m benchmarks.crowd`, docs/benchmarks.md) and printed here.
"""

import resource

import pytest

from benchmarks.crowd import CROWDS, crowd
from simple_flask.core.settings import Settings
from tests.support import running_server

pytestmark = pytest.mark.slow

# Besides its worker threads the process has its main thread, which runs the
# event loop: "a few more" allows for an interpreter's helper thread.
EXTRA_THREADS = 3
MAX_EXTRA_RSS_MIB = 40


@pytest.fixture(autouse=True)
def enough_descriptors():
    """Let this process hold a thousand client sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("name", list(CROWDS))
def test_a_crowd_of_late_answers_holds_no_thread_and_keeps_greetings_flowing(name, capsys):
    path, count = CROWDS[name]
    with running_server() as server:
        report = crowd(server.port, server.process.pid, path, count)
    with capsys.disabled():
        print(f"\n{name} x{count}: {report.summary()}")
    statuses = [(answer.status, answer.error) for answer in report.answers]
    assert statuses == [(200, None)] * count
    # Each answer is complete, and none left before its delay was over.
    body = 20_000 if "size=20000" in path else len(b"200 OK")
    assert {answer.length for answer in report.answers} == {body}
    assert min(answer.seconds for answer in report.answers) >= 1.0
    # The server's threads and memory.
    before, most = report.threads
    assert before <= Settings().threads + EXTRA_THREADS
    assert most == before, f"{most - before} threads were started for the crowd"
    assert (report.rss_kib[1] - report.rss_kib[0]) / 1024 < MAX_EXTRA_RSS_MIB
    # Greetings went on, answered, and nobody's connection overflowed the listen queue.
    assert report.greetings and report.failed_greetings == []
    assert report.overflows == 0
