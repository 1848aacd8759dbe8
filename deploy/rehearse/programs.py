"""The programs the rehearsal runs: where they are, their versions, and how long each may take.

Unavailable is what every part raises when the rehearsal cannot run: a
program is missing, or a part of the topology did not start.
"""

import re
import shutil
import subprocess
from pathlib import Path

# The checkout's root, which holds start.py and the shipped nginx site.
ROOT = Path(__file__).resolve().parents[2]
# nginx lives in /usr/sbin, which is not on every user's PATH.
SBIN = "/usr/sbin:/sbin"
# The Debian package of each program.
PACKAGES = {"nginx": "nginx", "redis-server": "redis-server"}
# Bounds on every wait, generous for a loaded machine.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class Unavailable(Exception):
    """A program the rehearsal needs is missing, or a part of the topology did not start."""


def find_program(name: str) -> str:
    """Return the path of `name`, looking in the sbin directories too; raise Unavailable if none."""
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if found is None:
        raise Unavailable(f"{name} is not installed (Debian: apt-get install {PACKAGES[name]})")
    return found


def missing_programs() -> list[str]:
    """Why the rehearsal cannot run here: one sentence per missing program, none when it can."""
    missing = []
    for name in PACKAGES:
        try:
            find_program(name)
        except Unavailable as error:
            missing.append(str(error))
    return missing


def program_version(argv: list[str]) -> str:
    """The version a program prints for `argv` (nginx -v, redis-server --version)."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    text = result.stdout + result.stderr
    found = re.search(r"(?:nginx/|v=)(\d[\w.]*)", text)
    return found.group(1) if found else text.strip()
