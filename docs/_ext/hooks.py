"""MkDocs hooks (``hooks:`` in mkdocs.yml): what the pages need beyond Markdown.

* **README links across pages.** The guides include sections of the README
  (pymdownx.snippets); a README link to one of its own headings (``[x](#slug)``) then
  lands on a page that may not hold that heading. Such a link is pointed at the page that
  includes the heading's section, so that ``mkdocs build --strict`` (which checks
  anchors) still passes and the reader gets there.
* **The command line, from the parser.** A line ``<!-- realtime-agent --help -->`` in a
  page becomes the help of every ``realtime-agent`` command, as argparse prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.extensions.toc import slugify
from markdown.preprocessors import Preprocessor

_INCLUDE = re.compile(r'^\s*--8<--\s+"README\.md:(?P<section>[a-z][-_0-9a-z]*)"\s*$')
_SECTION = re.compile(r"--8<--\s+\[(?P<kind>start|end):(?P<name>[a-z][-_0-9a-z]*)\]")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
_LOCAL_LINK = re.compile(r"\]\(#(?P<slug>[^)\s]+)\)")
_CLI_HELP = "<!-- realtime-agent --help -->"


def _slug(title: str) -> str:
    return slugify(re.sub(r"[`*_]", "", title), "-")


def readme_headings(root: Path) -> dict[str, list[tuple[str, bool]]]:
    """Each README section's headings, by section name: ``(slug, True)`` for the heading
    just above its start marker (the page that includes it is where it leads), ``(slug,
    False)`` for a heading inside it."""
    sections: dict[str, list[tuple[str, bool]]] = {}
    open_sections: list[str] = []
    fenced = False
    last_heading: str | None = None  # the heading on the line before, if any
    for line in (root / "README.md").read_text(encoding="utf-8").splitlines():
        marker = _SECTION.search(line)
        if marker:
            if marker["kind"] == "start":
                open_sections.append(marker["name"])
                titled = [(last_heading, True)] if last_heading else []
                sections.setdefault(marker["name"], titled)
            elif marker["name"] in open_sections:
                open_sections.remove(marker["name"])
            continue
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        last_heading = _slug(heading["title"]) if heading else None
        if heading:
            for name in open_sections:
                sections[name].append((_slug(heading["title"]), False))
    return sections


def anchor_pages(docs: Path, root: Path) -> dict[str, str]:
    """README heading slug -> where it is in the docs: ``page.md`` for a section's title
    (the page stands for it), ``page.md#slug`` for a heading inside an included section.
    Pages are relative to ``docs``."""
    headings = readme_headings(root)
    pages: dict[str, str] = {}
    for page in sorted(docs.rglob("*.md")):
        name = page.relative_to(docs).as_posix()
        for line in page.read_text(encoding="utf-8").splitlines():
            included = _INCLUDE.match(line)
            if included:
                for slug, title in headings.get(included["section"], []):
                    pages.setdefault(slug, name if title else f"{name}#{slug}")
    return pages


class _CrossPageLinks(Preprocessor):
    """After snippets: ``](#slug)`` for a README heading that is on another page becomes
    a link to that page. Pages that include README sections live in docs/ itself."""

    def __init__(self, md: Markdown, pages: dict[str, str]) -> None:
        super().__init__(md)
        self.pages = pages

    def run(self, lines: list[str]) -> list[str]:
        here = {_slug(m["title"]) for line in lines if (m := _HEADING.match(line))}

        def point(match: re.Match[str]) -> str:
            slug = match["slug"]
            if slug in here or slug not in self.pages:
                return match[0]
            return f"]({self.pages[slug]})"

        return [_LOCAL_LINK.sub(point, line) for line in lines]


class _CrossPageExtension(Extension):
    def __init__(self, pages: dict[str, str]) -> None:
        super().__init__()
        self.pages = pages

    def extendMarkdown(self, md: Markdown) -> None:
        # snippets runs at 32: this runs on what it included.
        md.preprocessors.register(_CrossPageLinks(md, self.pages), "readme_links", 31)


def on_config(config: Any, **_: Any) -> Any:
    docs = Path(config["docs_dir"])
    root = Path(config["config_file_path"]).parent
    config["markdown_extensions"].append(_CrossPageExtension(anchor_pages(docs, root)))
    return config


def on_page_markdown(markdown: str, **_: Any) -> str:
    if _CLI_HELP not in markdown:
        return markdown
    return markdown.replace(_CLI_HELP, command_help())


def command_help() -> str:
    """Every ``realtime-agent`` command's ``--help``, as Markdown."""
    from realtime_agent.cli import _parser  # the parser the command runs with

    parts = []
    for name, parser in _commands(_parser(), "realtime-agent"):
        parts.append(f"### `{name}`\n\n```text\n{_help(parser)}```\n")
    return "\n".join(parts)


def _commands(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, Any]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _commands(sub, f"{name} {sub_name}")


def _help(parser: argparse.ArgumentParser) -> str:
    with _columns(88):
        out = io.StringIO()
        parser.print_help(out)
    return out.getvalue()


@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    """argparse wraps at the terminal's width: a fixed one makes the page the same."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before
