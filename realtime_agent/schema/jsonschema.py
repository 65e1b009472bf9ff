"""JSON Schema of every event, generated from the models.

The checked-in copy lives in ``schemas/`` at the top of the repository; a test fails
when it differs from what :func:`generate` returns, so regenerate it with
``realtime-agent schema export`` whenever a model changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from realtime_agent.schema.beta import BetaClientEvent, BetaServerEvent
from realtime_agent.schema.client import ClientEvent
from realtime_agent.schema.server import ServerEvent

__all__ = ["SCHEMA_FILES", "generate", "render", "write"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: File name (relative to ``schemas/``) -> (title, union of events).
SCHEMA_FILES: dict[str, tuple[str, Any]] = {
    "ga/client-events.json": ("Realtime GA client event", ClientEvent),
    "ga/server-events.json": ("Realtime GA server event", ServerEvent),
    "beta/client-events.json": ("Realtime beta client event", BetaClientEvent),
    "beta/server-events.json": ("Realtime beta server event", BetaServerEvent),
}


def generate() -> dict[str, dict[str, Any]]:
    """Every schema file, by its path relative to ``schemas/``."""
    out: dict[str, dict[str, Any]] = {}
    for name, (title, union) in SCHEMA_FILES.items():
        discriminated: Any = Annotated[union, Field(discriminator="type")]
        schema = TypeAdapter(discriminated).json_schema()
        out[name] = {"$schema": _DRAFT, "title": title, **schema}
    return out


def render(schema: dict[str, Any]) -> str:
    """The canonical text of a schema file."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    """Write every schema file under ``directory``; return the paths written."""
    written = []
    for name, schema in generate().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
