"""Start one command the way the image would, for tests/test_dockerfile.py; run as root.

Run under `unshare --mount --propagation private` with the path of a JSON
spec. It builds a throw-away root file system of mounts (the system's /usr
and /etc read-only, a fresh /tmp and /proc, and the spec's binds, such as the
virtual environment at /opt/venv and the copied files at /app), changes root
into it, drops to the spec's uid and gid with no supplementary groups, and
replaces itself with the command. Nothing outside the new mount namespace
changes, and the mounts vanish with the process.

With "image": true in the spec, "root" is instead the root file system of a
built image (tests/test_image_build.py), entered read-only, as
`docker run --read-only` would, with the system's /dev and a fresh /proc.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

SYSTEM = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc")


def mount(*args: str) -> None:
    """Run mount(8) with `args`; a failure ends the launcher with mount's message."""
    subprocess.run(["mount", *args], check=True)


def bind(source: str, target: Path, read_only: bool) -> None:
    """Bind `source` at `target`, read-only if asked."""
    if Path(source).is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    mount("--bind", source, str(target))
    if read_only:
        mount("-o", "remount,bind,ro", str(target))


def build_root(root: Path, binds: list[tuple[str, str, bool]]) -> None:
    """Make `root` a tmpfs holding the system directories, /dev, /proc, /tmp and `binds`."""
    mount("-t", "tmpfs", "-o", "mode=0755", "rehearsal", str(root))
    for name in SYSTEM:
        source = Path("/", name)
        if source.is_symlink():
            (root / name).symlink_to(os.readlink(source))
        elif source.is_dir():
            bind(str(source), root / name, read_only=True)
    (root / "dev").mkdir()
    mount("--rbind", "/dev", str(root / "dev"))
    (root / "proc").mkdir()
    mount("-t", "proc", "proc", str(root / "proc"))
    (root / "tmp").mkdir()
    mount("-t", "tmpfs", "-o", "mode=1777", "tmp", str(root / "tmp"))
    for source, target, read_only in binds:
        bind(source, root / target.lstrip("/"), read_only)


def enter_image(root: Path) -> None:
    """Make the image's root file system `root` a read-only mount with /dev and /proc."""
    # A bind of the directory onto itself is a mount point of its own, which
    # can be made read-only without touching the image's files elsewhere.
    mount("--bind", str(root), str(root))
    mount("--rbind", "/dev", str(root / "dev"))
    mount("-t", "proc", "proc", str(root / "proc"))
    mount("-o", "remount,bind,ro", str(root))


def main(spec_path: str) -> None:
    """Set up the root from the spec, drop privileges and exec the command."""
    spec = json.loads(Path(spec_path).read_text())
    root = Path(spec["root"])
    if spec.get("image"):
        enter_image(root)
    else:
        build_root(root, [tuple(entry) for entry in spec["binds"]])
    os.chroot(root)
    os.chdir(spec["workdir"])
    os.setgroups([])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    # execvpe looks the command up on the PATH of the environment it is given.
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    main(sys.argv[1])
