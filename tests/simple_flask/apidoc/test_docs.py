"""The /docs page: Swagger UI from flask-swagger-ui, served here, under a strict policy.

The oracles are outside the code under test: the files flask-swagger-ui
installed are checked against the hashes pip recorded for them, the policy
and the Link header of GET / against values written out here, the page's
HTML is parsed for what it loads, and the inlined parameters are compared
with openapi.yaml as written. "Try it out" is replayed with the examples
Swagger UI fills in; tests/test_browser.py runs the page in Chromium.
"""

import base64
import hashlib
import importlib.metadata
import json
import re
import zipfile
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest
import yaml
from openapi_spec_validator import validate
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from simple_flask import create_app
from simple_flask.apidoc.openapi import HTTP_METHODS, SOURCE
from simple_flask.core.settings import Settings
from simple_flask.core.version import __version__
from tests.support import ROOT, SERVE, START, run_python, running_server

# What the page loads, beside it (relative to /docs), and the type each is served as.
LOADED = {"docs.css": "text/css", "docs.js": "text/javascript", "docs-init.js": "text/javascript"}
# Swagger UI's files, as flask-swagger-ui ships them, by the URL that serves each.
SHIPPED = {"/docs.js": "dist/swagger-ui-bundle.js", "/docs.css": "dist/swagger-ui.css"}
URLS = ["/docs", *(f"/{name}" for name in LOADED)]
# Written out, not imported: the policy the page is proven under in a real
# browser (tests/test_browser.py). Swagger UI's style sheet draws its icons as
# data: URLs; Swagger UI sets styles through the DOM, which style-src leaves
# alone, so no inline style is allowed.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
LINK = '</openapi.json>; rel="service-desc", </docs>; rel="service-doc"'


class Page(HTMLParser):
    """The tags and attributes of a page, and the text inside its script and style tags."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self.tags and self.tags[-1][0] in ("script", "style") and data.strip():
            self.inline.append((self.tags[-1][0], data))

    def loaded(self) -> list[str]:
        """The URLs the page loads: scripts, style sheets and icons."""
        return [
            attrs.get("src") or attrs.get("href") or ""
            for tag, attrs in self.tags
            if tag == "script" or (tag == "link" and attrs.get("rel") in ("stylesheet", "icon"))
        ]


@pytest.fixture
def page(client):
    return client.get("/docs")


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def test_the_page_is_swagger_ui_and_loads_only_its_own_files(page):
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    parsed = Page(html)
    assert f"<title>simple_flask {__version__} · API</title>" in html
    assert ("div", {"id": "swagger-ui"}) in parsed.tags
    # Relative, so that a mount prefix is kept; each one of this service's files.
    assert parsed.loaded() == ["docs.css", "data:,", "docs.js", "docs-init.js"]
    # No inline script or style, no handler attribute, nothing from elsewhere.
    assert parsed.inline == []
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on") or name == "style"], tag
    assert "//" not in html


def test_the_policy_allows_only_this_origin(client):
    """Scripts, style sheets and requests from here; images only as data: URLs; nothing inline."""
    for url in URLS:
        response = client.get(url)
        assert response.headers["Content-Security-Policy"] == POLICY, url
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("url", URLS)
def test_each_file_is_served_with_an_etag(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Content-Type"].endswith("; charset=utf-8")
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["Content-Security-Policy"] == response.headers["Content-Security-Policy"]
    assert client.head(url).headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize(("name", "mimetype"), LOADED.items())
def test_what_the_page_loads_is_routed_and_documented(client, spec, name, mimetype):
    url = urlsplit(urljoin("http://localhost/docs", name)).path
    response = client.get(url)
    assert (response.status_code, response.mimetype) == (200, mimetype)
    assert url in spec["paths"]


@pytest.mark.parametrize(("url", "shipped"), SHIPPED.items())
def test_swagger_ui_is_the_copy_flask_swagger_ui_installed(client, url, shipped):
    """The bytes served are the package's, as pip recorded their hash on installing it."""
    distribution = importlib.metadata.distribution("flask-swagger-ui")
    (record,) = [f for f in distribution.files or [] if f.as_posix().endswith(shipped)]
    assert record.hash is not None and record.hash.mode == "sha256"
    served = client.get(url).data
    digest = base64.urlsafe_b64encode(hashlib.sha256(served).digest()).rstrip(b"=").decode()
    assert digest == record.hash.value
    assert f"/{shipped}" in f"/{record.as_posix()}"


def test_swagger_ui_is_version_5():
    installed = Version(importlib.metadata.version("flask-swagger-ui"))
    assert installed.major == 5
    files = importlib.metadata.distribution("flask-swagger-ui").files or []
    (version_file,) = [f for f in files if f.as_posix().endswith("dist/VERSION")]
    # The package's version is Swagger UI's, but for a post-release of its own.
    assert version_file.read_text().strip() == f"v{installed.base_version}"


def test_flask_swagger_ui_is_required_and_pinned():
    """A runtime requirement of Swagger UI 5 releases, pinned with hashes for the image."""
    setup = (ROOT / "setup.py").read_text()
    runtime = setup[setup.index("install_requires=[") :]
    runtime = runtime[: runtime.index("]")]
    (declared,) = re.findall(r'"flask-swagger-ui([^"]*)"', runtime)
    allowed = SpecifierSet(declared)
    # 5.21.0 is the first release that ships Swagger UI 5, which reads OpenAPI 3.1.
    assert "5.21.0" in allowed and "5.20.0" not in allowed and "6.0.0" not in allowed
    pinned = re.search(
        r"^flask-swagger-ui==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)",
        (ROOT / "requirements.txt").read_text(),
        re.MULTILINE,
    )
    assert pinned, "requirements.txt pins flask-swagger-ui with its hashes"
    assert pinned.group(1) in allowed


def test_the_initializer_keeps_swagger_ui_at_home(client):
    script = client.get("/docs-init.js").get_data(as_text=True)
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    # Swagger UI's default validator is a service on another origin.
    assert re.search(r"^\s*validatorUrl: null,$", code, re.MULTILINE)
    # The document is read relative to the page, from this service, and
    # "Try it out" is sent below the page's root.
    assert 'const root = new URL(".", document.baseURI);' in code
    assert 'url: new URL("openapi.json", root).href,' in code
    assert "requestInterceptor: belowRoot," in code
    # No URL of another origin, and no way to load one: no top bar, no config URL.
    assert "//" not in code and "http" not in code
    assert 'layout: "BaseLayout"' in code and "configUrl" not in code


def test_the_page_works_under_a_mount_prefix():
    """Its relative URLs resolve under the prefix the app is mounted at."""
    client = create_app({"TESTING": True, "SETTINGS": Settings()}).test_client()
    html = client.get("/docs", environ_base={"SCRIPT_NAME": "/api"}).get_data(as_text=True)
    for loaded in Page(html).loaded():
        if loaded.startswith("data:"):
            continue
        url = urljoin("http://localhost/api/docs", loaded)
        assert url.startswith("http://localhost/api/"), loaded
        path = urlsplit(url).path.removeprefix("/api")
        assert client.get(path, environ_base={"SCRIPT_NAME": "/api"}).status_code == 200


def test_the_root_names_the_description_and_the_page(client):
    for method in ("GET", "HEAD"):
        for accept in ("text/plain", "application/json"):
            response = client.open("/", method=method, headers={"Accept": accept})
            assert response.headers.getlist("Link") == [LINK], (method, accept)
    links = dict(
        (relation, target)
        for target, relation in re.findall(
            r'<([^>]*)>; rel="([^"]*)"', client.get("/").headers["Link"]
        )
    )
    assert client.get(links["service-desc"]).mimetype == "application/json"
    assert client.get(links["service-doc"]).mimetype == "text/html"
    # Only the root: the named greetings and the blueprint's do not carry it.
    for path in ("/Kalimaha/", "/blueprint/", "/blueprint/Kalimaha/"):
        for method in ("GET", "HEAD"):
            response = client.open(path, method=method)
            assert response.status_code == 200
            assert "Link" not in response.headers, (method, path)


def test_the_link_header_is_documented(spec):
    for method in ("get", "head"):
        header = spec["paths"]["/"][method]["responses"]["200"]["headers"]["Link"]
        assert header["required"] is True
        assert header["schema"]["const"] == LINK


@pytest.mark.slow
@pytest.mark.parametrize("command", [START, SERVE], ids=["start.py", "simple-flask serve"])
def test_the_real_server_sends_the_link_header(command):
    """Through waitress and the server's own shortcuts, as deployed."""
    with running_server(command=command) as server:
        for method in ("GET", "HEAD"):
            for _ in range(2):
                response, _ = server.request(method, "/")
                assert response.status == 200
                assert response.headers.get_all("Link") == [LINK], method
            response, _ = server.request(method, "/Kalimaha/")
            assert response.headers.get_all("Link") is None


def test_the_greeting_is_otherwise_unchanged(client):
    plain = client.get("/")
    assert plain.get_data(as_text=True) == "Hallo from CORE!"
    as_json = client.get("/", headers={"Accept": "application/json"})
    assert as_json.get_json() == {"message": "Hallo from CORE!"}


# --- the served document: what Swagger UI needs of it --------------------------------------


def written_parameters() -> dict[str, list[str]]:
    """Each path of openapi.yaml, as written, with the component names its parameters refer to."""
    source = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    return {
        path: [parameter["$ref"].rsplit("/", 1)[1] for parameter in item.get("parameters", [])]
        for path, item in source["paths"].items()
    }


def test_openapi_yaml_still_refers_to_shared_parameters():
    """The source stays DRY: the inlining happens as the document is built."""
    written = written_parameters()
    assert len(written["/status/{codes}"]) > 5
    assert sum(len(names) for names in written.values()) > 20


def test_path_level_parameters_are_inlined_in_the_served_document(spec):
    written = written_parameters()
    components = spec["components"]
    for path, item in spec["paths"].items():
        served = item.get("parameters", [])
        assert [p["name"] for p in served] == [
            components["parameters"][name]["name"] for name in written[path]
        ], path
        for parameter, name in zip(served, written[path], strict=True):
            shared = components["parameters"][name]
            schema = shared["schema"]
            if "$ref" in schema:
                schema = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            if "not" in schema:
                # Swagger UI reads a `not` without a type as "never": it gets the schema's.
                schema = {**schema, "not": {"type": schema["type"], **schema["not"]}}
            assert parameter == {**shared, "schema": schema}, (path, name)
            assert "$ref" not in json.dumps(parameter), (path, name)


def test_the_components_stay_as_written(spec):
    """Inlining copies the parameters; the components keep their $refs and untyped `not`s."""
    source = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    for name, parameter in source["components"]["parameters"].items():
        served = spec["components"]["parameters"][name]
        assert ("$ref" in served["schema"]) == ("$ref" in parameter["schema"]), name
    assert spec["components"]["parameters"]["Name"]["schema"]["not"] == {
        "enum": ["blueprint", "status"]
    }


def test_every_parameter_has_a_name_a_place_and_a_typed_schema(spec):
    """What Swagger UI shows of each parameter: none is a nameless "any", none a "never"."""
    for path, item in spec["paths"].items():
        for parameter in item.get("parameters", []):
            assert parameter["name"] and parameter["in"] in ("path", "query"), path
            schema = parameter["schema"]
            assert schema["type"] in ("string", "integer", "array"), path
            if schema["type"] == "array":
                assert schema["items"]["type"] == "string", path
            # Swagger UI 5 shows a schema whose `not` has no type as "never".
            assert "not" not in schema or schema["not"]["type"] == schema["type"], path
            if parameter["in"] == "path":
                assert parameter["required"], path


def test_path_parameters_have_examples_but_the_sequence_key(spec):
    """Try it out starts from the example, filled in; a key no request has used would 404."""
    for path, item in spec["paths"].items():
        for parameter in item.get("parameters", []):
            if parameter["in"] == "path":
                has_example = "example" in parameter
                assert has_example == (parameter["name"] != "key"), (path, parameter["name"])
    key = spec["components"]["parameters"]["SequenceKey"]
    assert "example" not in key and "examples" not in key
    assert "example" not in spec["components"]["schemas"]["SequenceKey"]


def test_the_served_document_is_valid_openapi(spec):
    validate(spec)


def tried_out(spec: dict, path: str) -> str:
    """The URL Swagger UI's "Try it out" first sends for `path`: every example filled in."""
    parameters = spec["paths"][path].get("parameters", [])
    url = path
    query = []
    for parameter in parameters:
        if "example" not in parameter:
            continue
        example = parameter["example"]
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", quote(str(example), safe=""))
        else:
            # Arrays of query parameters explode: the name once per item.
            for value in example if isinstance(example, list) else [example]:
                query.append(f"{parameter['name']}={quote(str(value), safe='')}")
    return url + ("?" + "&".join(query) if query else "")


def documented(responses: dict, status: int) -> bool:
    return str(status) in responses or f"{str(status)[0]}XX" in responses


def test_every_operation_as_try_it_out_first_sends_it_is_answered_as_documented(client, spec):
    """Each method of each path, with the examples Swagger UI fills in: never refused, never 404.

    An operation with a required parameter that has no example is not sent:
    Swagger UI asks for the value first.
    """
    asked = set()
    for path, item in spec["paths"].items():
        parameters = item.get("parameters", [])
        if any(p.get("required") and "example" not in p for p in parameters):
            asked.add(path)
            continue
        for method in sorted(HTTP_METHODS.intersection(item)):
            url = tried_out(spec, path)
            response = client.open(url, method=method.upper())
            status = response.status_code
            assert documented(item[method]["responses"], status), (method, url, status)
            # The examples go together: no option refuses another, and each
            # names something a new service has.
            assert status not in (400, 404, 409) and status < 500, (method, url, status)
    assert asked == {"/status/sequences/{key}"}


def test_the_sequence_key_description_makes_a_key_that_is_then_found(client, spec):
    """The key has no example; its description says how to make one, and that one is found."""
    key = spec["components"]["parameters"]["SequenceKey"]
    made, name = re.findall(r"`([^`]+)`", key["description"])
    assert "404" in key["description"]
    report = f"/status/sequences/{name}"
    assert client.get(report).status_code == 404
    assert client.get(made).status_code == 503
    answer = client.get(report).get_json()
    assert answer["key"] == name
    assert [attempt["sent"] for attempt in answer["attempts"]] == ["503"]


# --- packaging ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_wheel_holds_the_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("docs.html", "docs-init.js"):
        assert f"simple_flask/apidoc/page/{name}" in names
    assert not [name for name in names if "apidoc/templates" in name]


@pytest.mark.slow
def test_the_installed_package_serves_the_page_and_swagger_ui(installed_venv, tmp_path):
    script = (
        "from simple_flask import create_app\n"
        "client = create_app().test_client()\n"
        f"for url in {URLS!r}:\n"
        "    print(url, client.get(url).status_code)\n"
    )
    lines = run_python(installed_venv / "python", script, tmp_path).splitlines()
    assert lines == [f"{url} 200" for url in URLS]
