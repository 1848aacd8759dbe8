"""The stores import the core alone: no web framework, nothing of the HTTP layers."""

import sys

import pytest

from tests.support import ROOT, run_python

ROOT_LAYERS = (
    "simple_flask.rest",
    "simple_flask.wsgi",
    "simple_flask.apidoc",
    "simple_flask.server",
)


@pytest.mark.parametrize(
    "module", ["simple_flask.state", "simple_flask.state.memory", "simple_flask.state.redis"]
)
def test_a_store_imports_only_the_core(module):
    script = (
        f"import sys, {module}\n"
        "print(','.join(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('flask', 'werkzeug', 'waitress')"
        f" or m.startswith({ROOT_LAYERS!r}))))\n"
    )
    assert run_python(sys.executable, script, ROOT).strip() == ""
