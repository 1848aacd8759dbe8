"""`python -m deploy.rehearse [--json]`: run the rehearsal, print its report, exit with its verdict.

See the package's docstring for what it does and its exit statuses.
"""

import argparse
import json
import signal
import sys

from .load import MAX_THREADS
from .programs import Unavailable
from .rehearsal import rehearse
from .report import format_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rehearse",
        description="Rehearse nginx, Redis and three replicas on loopback under load: a rolling "
        "restart, a kill -9, failure sequences and the access log.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds of steady load between phases"
    )
    parser.add_argument(
        "--kill-window", type=float, default=3.0, help="seconds a killed replica stays down"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.threads <= MAX_THREADS:
        parser.error(f"--threads must be from 1 to {MAX_THREADS}: one loopback address each")

    # SIGTERM unwinds like Ctrl-C, so that everything started is stopped.
    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = rehearse(
            arguments.threads,
            arguments.settle,
            arguments.kill_window,
            progress=lambda text: print(f"rehearse: {text}", file=sys.stderr, flush=True),
        )
    except Unavailable as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if arguments.json else format_report(report))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
