"""The checked-in JSON Schema files match what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

from realtime_agent.schema import jsonschema
from realtime_agent.schema.beta import BETA_CLIENT_EVENT_TYPES, BETA_SERVER_EVENT_TYPES
from realtime_agent.schema.client import GA_CLIENT_EVENT_TYPES, GA_EXTRA_CLIENT_EVENT_TYPES
from realtime_agent.schema.server import GA_EXTRA_SERVER_EVENT_TYPES, GA_SERVER_EVENT_TYPES

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_checked_in_schemas_match_the_models() -> None:
    generated = jsonschema.generate()
    on_disk = {
        str(path.relative_to(SCHEMAS)): path.read_text(encoding="utf-8")
        for path in SCHEMAS.glob("*/*.json")
    }
    assert sorted(on_disk) == sorted(generated), "run `realtime-agent schema export`"
    for name, schema in generated.items():
        assert on_disk[name] == jsonschema.render(schema), (
            f"schemas/{name} is stale: run `realtime-agent schema export`"
        )


def test_every_event_type_is_in_its_schema() -> None:
    expected = {
        "ga/client-events.json": GA_CLIENT_EVENT_TYPES | GA_EXTRA_CLIENT_EVENT_TYPES,
        "ga/server-events.json": GA_SERVER_EVENT_TYPES | GA_EXTRA_SERVER_EVENT_TYPES,
        "beta/client-events.json": BETA_CLIENT_EVENT_TYPES,
        "beta/server-events.json": BETA_SERVER_EVENT_TYPES,
    }
    for name, schema in jsonschema.generate().items():
        assert set(schema["discriminator"]["mapping"]) == expected[name]
        assert len(schema["oneOf"]) == len(expected[name])


def test_write_creates_the_layout(tmp_path: Path) -> None:
    written = jsonschema.write(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == sorted(jsonschema.SCHEMA_FILES)
    for path in written:
        assert json.loads(path.read_text())["$schema"].endswith("2020-12/schema")
