"""The published examples under tests/schema/examples/, as test parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent / "examples"


@dataclass(frozen=True)
class Example:
    """One published event: its file, dialect, direction and strict JSON text."""

    path: Path
    dialect: str  # "ga" or "beta"
    text: str
    corrected: bool

    @property
    def client(self) -> bool:
        return self.path.name.startswith("RealtimeClientEvent")

    @property
    def data(self) -> Any:
        return json.loads(self.text)

    @property
    def id(self) -> str:
        return f"{self.dialect}/{self.path.stem}"


def published_files() -> list[Path]:
    """The 105 published files, byte-for-byte."""
    return sorted(EXAMPLES.glob("*/*.json"))


def examples() -> list[Example]:
    """Every published event, from its corrected copy where the published text is not JSON."""
    out = []
    for path in published_files():
        corrected = path.with_name(path.stem + ".corrected.jsonl")
        if corrected.exists():
            docs = corrected.read_text(encoding="utf-8").splitlines()
        else:
            docs = [path.read_text(encoding="utf-8")]
        for text in docs:
            out.append(Example(path, path.parent.name, text, corrected.exists()))
    return out
