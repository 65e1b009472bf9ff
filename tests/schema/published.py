"""The published examples under tests/schema/examples/, as test parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from realtime_agent.schema import codec, dialect

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


def through_ga(text: str, *, client: bool) -> tuple[Any, Any]:
    """A beta frame decoded, translated to GA, and back: (the GA event, the beta event).

    Checks on the way that the GA event re-encodes to valid GA of the same class.
    """
    ga: BaseModel | object
    if client:
        ga = dialect.client_to_ga(codec.decode_beta_client(text))
        assert type(codec.decode_client(codec.encode(ga))) is type(ga)
        return ga, dialect.client_to_beta(ga)
    ga = dialect.server_to_ga(codec.decode_beta(text))
    assert type(codec.decode(codec.encode(ga))) is type(ga)
    return ga, dialect.server_to_beta(ga)
