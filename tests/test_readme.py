"""The README's examples run as written (docs that drift are bugs).

Every fenced ``python`` block runs as a reader would run it after copying it: a script
of its own in an empty directory, without ``OPENAI_API_KEY`` (so it talks to the local
Realtime server), and must exit 0; a ``test_*.py`` block runs under pytest beside the
README's other titled blocks (its ``weather.toml``). The conventions are the docs'
(``tests/test_docs.py``): a ``text`` block titled ``Output`` after a block is what it must
print; ``<!-- docs-test: needs MODULE ... -->`` before one skips it without an extra.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.test_docs import Block, blocks, run_block

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = [block for block in blocks(README) if block.lang == "python"]


def _section(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"--8<-- \[start:{name}\] -->\n(.*?)<!-- --8<-- \[end:{name}\]", text, re.S)
    assert found is not None, name
    return found[1]


def test_every_python_block_is_found() -> None:
    # A parser that found nothing would make the test below pass vacuously.
    assert len(BLOCKS) >= 8
    assert sum(block.title is not None for block in BLOCKS) >= 1  # the pytest one
    assert sum(block.output is not None for block in BLOCKS) >= 1


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"line {b.line}")
def test_the_block_runs_as_copied(block: Block, tmp_path: Path) -> None:
    if block.mark is not None and block.mark[0] == "needs":
        missing = [m for m in block.mark[1].split() if importlib.util.find_spec(m) is None]
        if missing:
            pytest.skip(f"needs {', '.join(missing)}")
    assert block.mark is None or block.mark[0] != "skip", "every README block runs"
    result = run_block(block, tmp_path)
    assert result.returncode == 0, (
        f"README.md:{block.line} failed:\n{result.stdout}\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    if block.output is not None:
        assert result.stdout.splitlines() == block.output.splitlines(), result.stdout
    if block.body in _section("runtime-example"):
        assert result.stdout.splitlines() == [
            "get_weather -> Sunny in Paris",
            "assistant: It is sunny in Paris.",
        ]
