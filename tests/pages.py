"""Read the project's Markdown pages (README.md, docs/*.md): a section, a code block."""

import re

from tests.support import ROOT

FENCE = "```"


def page(name: str) -> str:
    """Return the text of the page at `name`, a path from the project's root."""
    return (ROOT / name).read_text(encoding="utf-8")


def headings(text: str) -> list[tuple[int, int, str]]:
    """Return (line number, level, title) of each heading of `text`, outside code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines()):
        if line.startswith(FENCE):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#{1,6}) (.+)$", line)):
            found.append((number, len(match.group(1)), match.group(2).strip()))
    return found


def section(name: str, title: str) -> str:
    """Return the section of page `name` headed `title`, without its heading.

    It ends at the next heading of the same or a higher level.
    """
    lines = page(name).splitlines(keepends=True)
    marks = headings("".join(lines))
    for index, (start, level, heading) in enumerate(marks):
        if heading == title:
            end = next((n for n, lvl, _ in marks[index + 1 :] if lvl <= level), len(lines))
            return "".join(lines[start + 1 : end])
    raise AssertionError(f"{name} has no section titled {title!r}")


def block_after(marker: str, name: str = "README.md") -> str:
    """Return the first fenced code block after `<!-- marker -->` in page `name`."""
    text = page(name)
    assert f"<!-- {marker} -->" in text, f"{name} has no <!-- {marker} -->"
    tail = text.split(f"<!-- {marker} -->", 1)[1]
    return re.search(r"```[a-z]*\n(.*?)```", tail, re.S).group(1)
