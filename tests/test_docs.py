"""The documentation's examples run as shown, and the docs build in strict mode.

Every fenced ``python`` block of ``docs/**/*.md`` runs, as a reader would run it: as a
script of its own, in an empty directory, without ``OPENAI_API_KEY`` (so it talks to the
local Realtime server), and must exit 0. The conventions (``docs/about.md`` states them
for writers):

* a block titled ``test_*.py`` (````` ```python title="test_weather.py" `````) runs
  under pytest, with the page's other titled blocks (a ``weather.toml``) written beside
  it under their titles;
* a ``text`` block titled ``Output`` right after a block is what the block must print;
* ``<!-- docs-test: needs MODULE ... -->`` on the line before a block skips it when one of
  those modules is missing (an extra not installed); ``<!-- docs-test: skip: WHY -->``
  skips it, saying why;
* a block that is a snippet include (``--8<-- "examples/hang_up.py"``) shows a file that
  its own test runs (``tests/test_examples.py``): it is not run again here; nor are the
  README's blocks that pages include by section (``tests/test_readme.py`` has them).

The other tests check what the strict build would, cheaply (every snippet a page
includes exists, every public module has its reference page), and, where mkdocs is
installed (not in CI's wheel-only run), run ``mkdocs build --strict``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.skipif(
    not DOCS.is_dir(), reason="the docs are not beside the tests (a wheel-only run)"
)

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>[\w-]*)(?P<attrs>[^`]*)$")
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')
_MARK = re.compile(r"^<!--\s*docs-test:\s*(?P<what>needs|skip)\s*:?\s*(?P<rest>.*?)\s*-->$")
_SNIPPET = re.compile(r'^\s*-+8<-+\s+"(?P<path>[^":]+)(?::(?P<section>[a-z][-_0-9a-z]*))?"\s*$')
_DIRECTIVE = re.compile(r"^:::\s+(?P<module>[\w.]+)\s*$", re.M)

#: The public packages and modules, each with its page in the API reference.
PUBLIC = [
    "realtime_agent",
    "realtime_agent.runtime",
    "realtime_agent.protocol.events",
    "realtime_agent.tools",
    "realtime_agent.audio",
    "realtime_agent.schema",
    "realtime_agent.server",
    "realtime_agent.testing",
    "realtime_agent.web",
    "realtime_agent.http",
    "realtime_agent.report",
    "realtime_agent.errors",
]


@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown page."""

    page: Path
    line: int
    """Where its fence opens (1-based)."""
    lang: str
    title: str | None
    body: str
    mark: tuple[str, str] | None
    """``("needs", "starlette httpx2")`` or ``("skip", why)``, from the line before."""
    output: str | None
    """The ``text`` block titled ``Output`` that follows it, if one does."""

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def included(self) -> bool:
        """The block shows a file through a snippet include."""
        return any(_SNIPPET.match(line) for line in self.body.splitlines())


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks, in order, with what marks them."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != opening["fence"]:
            end += 1
        before = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        mark = _MARK.match(before)
        title = _TITLE.search(opening["attrs"])
        found.append(
            Block(
                page=page,
                line=index + 1,
                lang=opening["lang"],
                title=title["title"] if title else None,
                body="\n".join(lines[index + 1 : end]) + "\n",
                mark=(mark["what"], mark["rest"]) if mark else None,
                output=None,
            )
        )
        index = end + 1
    return [
        _with_output(block, found[n + 1] if n + 1 < len(found) else None)
        for n, block in enumerate(found)
    ]


def _with_output(block: Block, following: Block | None) -> Block:
    if following is None or following.lang != "text" or following.title != "Output":
        return block
    return replace(block, output=following.body)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md")) if DOCS.is_dir() else []


def python_blocks() -> list[Block]:
    return [b for page in pages() for b in blocks(page) if b.lang == "python" and not b.included]


def run_block(
    block: Block, directory: Path, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Run one block as a reader would: a script (or a pytest file) in ``directory``."""
    for other in blocks(block.page):  # the files a test block needs, under their titles
        if other.title and other is not block and not other.included and "/" not in other.title:
            if other.title != "Output":
                (directory / other.title).write_text(other.body, encoding="utf-8")
    name = block.title if block.title and "/" not in block.title else "example.py"
    (directory / name).write_text(block.body, encoding="utf-8")
    command = [sys.executable, name]
    if name.startswith("test_"):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "PYTEST_ADDOPTS"}
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        command,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.id)
def test_the_example_runs(block: Block, tmp_path: Path) -> None:
    if block.mark is not None and block.mark[0] == "skip":
        pytest.skip(block.mark[1] or "the page says it cannot run here")
    if block.mark is not None and block.mark[0] == "needs":
        missing = [m for m in block.mark[1].split() if importlib.util.find_spec(m) is None]
        if missing:
            pytest.skip(f"needs {', '.join(missing)}")
    result = run_block(block, tmp_path)
    assert result.returncode == 0, f"{block.id} failed:\n{result.stdout}\n{result.stderr}"
    if block.output is not None:
        assert result.stdout.splitlines() == block.output.splitlines(), (
            f"{block.id} printed something else than its Output block:\n{result.stdout}"
        )


def test_the_pages_have_examples() -> None:
    # A parser that found nothing would make the test above pass vacuously.
    assert len(python_blocks()) >= 10
    assert sum(b.output is not None for b in python_blocks()) >= 8


def test_every_snippet_a_page_includes_exists() -> None:
    for page in pages():
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            snippet = _SNIPPET.match(line)
            if snippet is None:
                continue
            source = ROOT / snippet["path"]
            where = f"{page.relative_to(ROOT)}:{number}"
            assert source.is_file(), f"{where} includes {snippet['path']}, which is not there"
            if snippet["section"]:
                text = source.read_text(encoding="utf-8")
                for kind in ("start", "end"):
                    marker = f"--8<-- [{kind}:{snippet['section']}]"
                    assert marker in text, f"{where}: {snippet['path']} has no {marker}"


def test_every_public_module_has_its_reference_page() -> None:
    reference = {
        match["module"]
        for page in (DOCS / "reference").glob("*.md")
        for match in _DIRECTIVE.finditer(page.read_text(encoding="utf-8"))
    }
    assert set(PUBLIC) <= reference, sorted(set(PUBLIC) - reference)
    for path in reference:  # every directive names something that exists
        module, _, name = path.rpartition(".")
        try:
            importlib.import_module(path)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), name), path


def test_the_reference_lists_the_package_root() -> None:
    import realtime_agent

    table = (DOCS / "reference" / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert listed == set(realtime_agent.__all__), set(realtime_agent.__all__) ^ listed


def _rst_docstrings() -> ModuleType:
    path = DOCS / "_ext" / "rst_docstrings.py"
    spec = importlib.util.spec_from_file_location("rst_docstrings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(importlib.util.find_spec("griffe") is None, reason="needs the docs extra")
def test_docstrings_read_as_markdown() -> None:
    convert: Any = _rst_docstrings().convert
    paths = {"SessionCore.receive": "realtime_agent.protocol.core.SessionCore.receive"}

    def resolve(name: str) -> str | None:
        return paths.get(name.lstrip("~"), name if name.startswith("asyncio.") else None)

    assert convert("See :meth:`~SessionCore.receive`.", resolve) == (
        'See <autoref identifier="realtime_agent.protocol.core.SessionCore.receive" optional>'
        "<code>receive()</code></autoref>."
    )
    assert convert("A :class:`asyncio.TaskGroup`.", resolve) == "A `asyncio.TaskGroup`."
    assert convert(":class:`Nowhere`", resolve) == "`Nowhere`"  # and a warning: the build fails
    assert convert("For example::\n\n    x = 1\n\nThen.", resolve) == (
        "For example:\n\n```python\nx = 1\n```\n\nThen."
    )
    assert convert("A tree::\n\n    root\n    └── leaf\n", resolve).startswith(
        "A tree:\n\n```text\nroot\n└── leaf\n```"
    )
    assert convert("Args:\n    host, port: where to listen.\n", resolve) == (
        "Args:\n    host: where to listen.\n    port: where to listen."
    )


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("mkdocs", "mkdocstrings", "material")),
    reason="needs the docs extra (pip install -e '.[docs]')",
)
@pytest.mark.timeout(300)
def test_the_docs_build_in_strict_mode(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "runtime" / "index.html").is_file()
