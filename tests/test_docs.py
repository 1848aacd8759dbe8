"""The README stays a page long, and every relative link of the pages leads somewhere."""

import re

import pytest

from tests.pages import FENCE, headings, page
from tests.support import ROOT

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); a target may end with a "title".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def outside_code(text: str) -> str:
    """Return `text` without its fenced code blocks and inline code."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.startswith(FENCE):
            fenced = not fenced
        elif not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def anchor(title: str) -> str:
    """Return the anchor GitHub gives a heading titled `title`."""
    title = re.sub(r"`|\[([^\]]*)\]\([^)]*\)", r"\1", title).lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def relative_links(name: str) -> list[str]:
    """Return the targets of `name`'s links that point into this repository."""
    targets = LINK.findall(outside_code(page(name)))
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_readme_is_a_page_long():
    assert len(page("README.md").splitlines()) <= 250


def test_the_readme_links_every_page_under_docs():
    """Every page is reached from the README, directly or through the pages it links."""
    reached, todo = set(), ["README.md"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        folder = (ROOT / name).parent
        for target in relative_links(name):
            path = (folder / target.split("#")[0]).resolve()
            if path.suffix == ".md" and path.exists():
                todo.append(str(path.relative_to(ROOT)))
    for name in PAGES[1:]:
        assert name in reached, name


@pytest.mark.parametrize("name", PAGES)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(name):
    links = relative_links(name)
    assert links or name != "README.md"
    for target in links:
        path, _, fragment = target.partition("#")
        # On GitHub a link is resolved from the page's own folder.
        destination = (ROOT / name).parent / path if path else ROOT / name
        assert destination.resolve().is_relative_to(ROOT), target
        assert destination.exists(), f"{name}: {target}"
        if fragment:
            assert destination.suffix == ".md", f"{name}: {target}"
            titles = headings(destination.read_text(encoding="utf-8"))
            shown = {anchor(title) for _, _, title in titles}
            assert fragment in shown, f"{name}: {target}: no heading with that anchor"


def test_no_page_names_an_old_release_or_an_inner_import():
    from simple_flask import __version__

    older = set(re.findall(r"^## \[([0-9.]+)\]", page("CHANGELOG.md"), re.M)) - {__version__}
    assert older
    pages = {"README.md": page("README.md")}
    pages.update({path.name: path.read_text() for path in (ROOT / "docs").glob("*.md")})
    for name, text in pages.items():
        # Releases before this one live in CHANGELOG.md only (a benchmark run
        # names the version it measured).
        for old in older:
            assert old not in text or name == "benchmarks.md", (name, old)
        # Where the status Blueprint is defined may change; its import may not.
        assert "simple_flask.rest.status" not in text, name
