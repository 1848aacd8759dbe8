"""Fixtures shared by the whole suite, in the style of Flask's tutorial."""

import pytest

from simple_flask import create_app
from simple_flask.core.settings import Settings


@pytest.fixture
def app():
    """The root app with production settings, independent of the caller's environment."""
    return create_app({"TESTING": True, "SETTINGS": Settings()})


@pytest.fixture
def client(app):
    """A test client of the root app."""
    return app.test_client()


@pytest.fixture(scope="module")
def redis_server():
    """A real redis-server on a free loopback port for the module; FLUSHALL before each use."""
    from tests.redis_support import running_redis

    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    """The URL of an empty Redis."""
    redis_server.command("FLUSHALL")
    return redis_server.url


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """A wheel built from the checkout, as `pip install git+...` would build it."""
    import shutil
    import subprocess
    import sys

    from tests.support import ROOT

    outdir = tmp_path_factory.mktemp("wheel")
    # setuptools reuses build/ in the checkout: a module deleted since an
    # earlier build would still be in the wheel.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = outdir.glob("simple_flask-*.whl")
    return built


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory, wheel):
    """A fresh virtual environment holding requirements.txt (hash-checked) and the wheel.

    Returns the environment's bin directory. It installs as the container does:
    the pinned runtime set first, then the project without dependencies.
    """
    import subprocess
    import sys

    from tests.support import ROOT

    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    subprocess.run(
        [*pip, "--require-hashes", "-r", str(ROOT / "requirements.txt")],
        check=True,
        capture_output=True,
    )
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True)
    return venv / "bin"


@pytest.fixture(scope="session")
def image_build(tmp_path_factory):
    """The Dockerfile built once per session by buildah on the stand-in base.

    tests/test_image_build.py runs the image from its own root file system,
    tests/test_compose.py under podman: both from this one build, in a buildah
    storage under the session's temporary directory, removed at the end.
    """
    from tests.test_image_build import built_image

    with built_image(tmp_path_factory.mktemp("buildah")) as build:
        yield build
