"""Every published example parses to its specific class and re-encodes to equal JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from realtime_agent.errors import RemoteProtocolError
from realtime_agent.schema import codec
from realtime_agent.schema.client import ConversationItemCreate
from realtime_agent.schema.common import literal_tag
from realtime_agent.schema.server import ConversationItemCreated
from tests.schema.published import EXAMPLES, Example, examples, published_files

DECODERS = {
    ("ga", True): codec.decode_client,
    ("ga", False): codec.decode,
    ("beta", True): codec.decode_beta_client,
    ("beta", False): codec.decode_beta,
}


def decode(example: Example) -> object:
    return DECODERS[example.dialect, example.client](example.text)


def test_all_105_published_files_are_here() -> None:
    files = published_files()
    assert len(files) == 105
    assert sum(1 for f in files if f.parent.name == "ga") == 59
    assert sum(1 for f in files if f.parent.name == "beta") == 46


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.id)
def test_example_parses_to_its_own_class(example: Example) -> None:
    event = decode(example)
    assert not isinstance(event, codec.UnknownServerEvent | codec.UnknownClientEvent)
    assert isinstance(event, BaseModel)
    assert literal_tag(type(event)) == example.data["type"]


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.id)
def test_example_reencodes_to_equal_json(example: Example) -> None:
    event = decode(example)
    assert isinstance(event, BaseModel)
    assert json.loads(codec.encode(event)) == example.data


@pytest.mark.parametrize("example", [e for e in examples() if e.corrected], ids=lambda e: e.id)
def test_published_text_that_is_not_json_is_refused_with_the_type_named(
    example: Example,
) -> None:
    published = example.path.read_text(encoding="utf-8")
    with pytest.raises(RemoteProtocolError, match="invalid JSON") as caught:
        DECODERS[example.dialect, example.client](published)
    assert caught.value.event_type is not None
    assert caught.value.event_type.strip() == example.data["type"]


def test_mislabelled_beta_retrieved_example_is_a_created_event() -> None:
    text = (EXAMPLES / "beta" / "RealtimeServerEventConversationItemRetrieved.json").read_text()
    event = codec.decode_beta(text)
    assert isinstance(event, ConversationItemCreated)
    assert event.item.type == "message"


def test_ga_response_create_example_holds_two_documents() -> None:
    docs = [e for e in examples() if e.id == "ga/RealtimeClientEventResponseCreate"]
    assert len(docs) == 2
    second = codec.decode_client(docs[1].text)
    assert second.type == "response.create"
    assert not isinstance(second, ConversationItemCreate)
