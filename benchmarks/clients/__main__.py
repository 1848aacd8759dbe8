"""`python -m benchmarks.clients`: start the service, run every scenario, print the table."""

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

from simple_flask.testing.processes import LOOPBACK, free_port, server_environment, stop, wait_for

from ..process import ROOT, get
from .runners import CLIENTS, versions
from .table import markdown, run

# How long the server may take to answer its first request on a loaded machine.
START_TIMEOUT = 30.0
# The service's own server, which enacts every fault and waits without threads.
SERVE = [sys.executable, "-m", "simple_flask", "serve", "--host", LOOPBACK, "--port"]


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """Run `simple-flask serve` on a free loopback port; yield its base URL; stop it on exit."""
    port = free_port()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [*SERVE, str(port)],
            cwd=ROOT,
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            # The access log is not needed: the attempt log tells what arrived.
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            if not wait_for(lambda: get(port, "/healthz"), START_TIMEOUT, process):
                errors.seek(0)
                raise RuntimeError(
                    f"the server did not answer (exit {process.poll()}): "
                    + errors.read().decode(errors="replace")
                )
            yield f"http://{LOOPBACK}:{port}"
        finally:
            stop(process)


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios with every client installed here; print the table and the versions."""
    argparse.ArgumentParser(
        prog="python -m benchmarks.clients",
        description="Send failure sequences to the status service with real HTTP clients"
        " and print what each reported and how many attempts the server saw.",
    ).parse_args(argv)
    names, left_out = [], []
    for client in CLIENTS:
        reason = client.missing()
        if reason is None:
            names.append(client.name)
        else:
            left_out.append(f"{client.name}: its rows are left out: {reason}")
    began = time.monotonic()
    with serving() as base:
        rows = run(base, names)
    print(markdown(rows))
    print()
    print(versions())
    for line in left_out:
        print(f"\n{line}.")
    print(f"({len(rows)} rows in {time.monotonic() - began:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
