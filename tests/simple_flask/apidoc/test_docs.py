"""The /docs page: rendered from the OpenAPI document, escaped, self-contained and clickable."""

import base64
import copy
import hashlib
import re
import zipfile
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from simple_flask.apidoc.docs import inline_code, render, style_hash
from simple_flask.apidoc.openapi import HTTP_METHODS
from tests.support import run_python


class Page(HTMLParser):
    """The tags, attributes, texts, links and inline styles of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        # (href, class, text) of every link.
        self.anchors: list[tuple[str, str, str]] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "a":
            self.anchors.append((attrs.get("href") or "", attrs.get("class") or "", ""))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        inside = self._open[-1] if self._open else None
        if inside == "style":
            self.styles.append(data)
            return
        self.text.append(data)
        if inside == "a":
            href, classes, text = self.anchors[-1]
            self.anchors[-1] = (href, classes, text + data)

    def links(self) -> list[str]:
        return [href for href, _, _ in self.anchors]

    def samples(self) -> dict[str, str]:
        """Each sample link's text (the path it requests) mapped to its href."""
        return {text: href for href, classes, text in self.anchors if classes == "sample"}


@pytest.fixture
def page(client):
    return client.get("/docs")


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def policy(response) -> dict[str, str]:
    directives = response.headers["Content-Security-Policy"].split(";")
    return dict(directive.strip().split(" ", 1) for directive in directives)


def test_the_page_is_html_with_a_strict_policy(page):
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    rules = policy(page)
    assert rules["default-src"] == "'none'"
    assert rules["base-uri"] == "'none'"
    assert rules["form-action"] == "'none'"
    assert rules["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.headers["Content-Security-Policy"]
    assert "script-src" not in rules
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_policy_allows_exactly_the_inline_style(page):
    parsed = Page(page.get_data(as_text=True))
    (style,) = parsed.styles
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy(page)["style-src"] == f"'sha256-{digest}'" == style_hash(style)
    # No style attributes: the policy would block them.
    assert not [tag for tag, attrs in parsed.tags if "style" in attrs]


def test_the_page_loads_nothing(page):
    parsed = Page(page.get_data(as_text=True))
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "form", "svg"}
    for tag, attrs in parsed.tags:
        assert "src" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
    # Every link stays on this service, relative to /docs, so a mount prefix keeps working.
    for href in parsed.links():
        assert href.startswith(("./", "#")), href
    assert "http://" not in page.get_data(as_text=True)
    assert "https://" not in page.get_data(as_text=True)


def test_every_documented_path_is_on_the_page(page, spec):
    parsed = Page(page.get_data(as_text=True))
    text = "".join(parsed.text)
    for path, item in spec["paths"].items():
        assert path in parsed.text, path
        assert item["summary"] in text, path
        for method in HTTP_METHODS.intersection(item):
            assert method.upper() in parsed.text
    for tag in spec["tags"]:
        assert tag["name"] in parsed.text


@pytest.mark.parametrize(
    ("sample", "answer"),
    [
        ("/Kalimaha/", "Hallo Kalimaha from CORE!"),
        ("/blueprint/Kalimaha/", "Hallo Kalimaha!"),
        ("/status/418", "418 I'm a Teapot"),
        ("/", "Hallo from CORE!"),
    ],
)
def test_the_samples_answer(client, page, sample, answer):
    href = Page(page.get_data(as_text=True)).samples()[sample]
    response = client.get(urljoin("http://localhost/docs", href))
    assert response.status_code == 418 if "418" in sample else 200
    assert response.get_data(as_text=True) == answer


def test_every_sample_link_works(client, page, spec):
    samples = Page(page.get_data(as_text=True)).samples()
    # One sample per path whose GET answers 2xx (not the redirects) and has an
    # example for each path parameter: all of them here.
    answering = [
        item
        for item in spec["paths"].values()
        if any(code.startswith("2") for code in item["get"]["responses"])
    ]
    assert len(samples) == len(answering)
    # The sequence report's sample names a key that must have been used first.
    key = spec["components"]["parameters"]["SequenceKey"]["example"]
    assert client.get(f"/status/503,200?sequence={key}").status_code == 503
    for shown, href in samples.items():
        response = client.get(urljoin("http://localhost/docs", href))
        # The status samples ask for 418; every other sample answers 200.
        assert response.status_code == (418 if shown.startswith("/status/418") else 200), shown


def test_the_openapi_link_works(client, page):
    assert "./openapi.json" in Page(page.get_data(as_text=True)).links()


def test_the_page_is_cached_with_an_etag(client, page):
    assert page.headers["Cache-Control"] == "no-cache"
    again = client.get("/docs", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Content-Security-Policy"] == page.headers["Content-Security-Policy"]


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def hostile_spec(spec: dict) -> dict:
    """`spec` with markup in every kind of value the page shows."""
    spec = copy.deepcopy(spec)
    spec["info"]["title"] = HOSTILE
    spec["info"]["summary"] = f"`{HOSTILE}` and {HOSTILE}"
    spec["tags"][0]["description"] = HOSTILE
    item = spec["paths"].pop("/{name}/")
    item["summary"] = HOSTILE
    item["description"] = f"a `{HOSTILE}` b"
    spec["paths"][f"/{HOSTILE}/{{name}}/"] = item
    spec["components"]["parameters"]["Name"]["example"] = HOSTILE
    spec["components"]["parameters"]["Name"]["description"] = HOSTILE
    spec["components"]["responses"]["BadName"]["description"] = HOSTILE
    return spec


def test_every_value_from_the_document_is_escaped(spec):
    html, _ = render(hostile_spec(spec))
    page = html.decode()
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    parsed = Page(page)
    assert not [attrs for _, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
    # The hostile example is percent-encoded in the link, and shown as text.
    hrefs = [href for href in parsed.links() if "script" in href]
    assert hrefs and all(re.fullmatch(r"[./A-Za-z0-9%_~-]+", href) for href in hrefs)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain", "plain"),
        ("a `b` c", "a <code>b</code> c"),
        ("`<i>`", "<code>&lt;i&gt;</code>"),
        ("<i>`x`", "&lt;i&gt;<code>x</code>"),
        ("one ` alone <b>", "one ` alone &lt;b&gt;"),
    ],
)
def test_code_spans(text, html):
    assert str(inline_code(text)) == html


@pytest.mark.slow
def test_the_wheel_holds_the_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "simple_flask/apidoc/templates/docs.html" in names
    assert "simple_flask/apidoc/templates/docs.css" in names


@pytest.mark.slow
def test_the_installed_package_serves_the_page(installed_venv, tmp_path):
    script = (
        "from simple_flask import create_app\n"
        "response = create_app().test_client().get('/docs')\n"
        "print(response.status_code, 'style-src' in response.headers['Content-Security-Policy'])\n"
    )
    assert run_python(installed_venv / "python", script, tmp_path).split() == ["200", "True"]
