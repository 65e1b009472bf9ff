"""Property: any valid frame decodes to its class and re-encodes to the same JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from realtime_agent.schema import codec
from realtime_agent.schema.beta import BetaClientEvent, BetaServerEvent
from realtime_agent.schema.client import ClientEvent
from realtime_agent.schema.common import literal_tag
from realtime_agent.schema.server import ServerEvent
from tests.schema.published import through_ga
from tests.schema.strategies import event_classes, for_model, in_beta_vocabulary

CASES: list[tuple[str, type[BaseModel], Callable[[str], Any]]] = [
    *(("ga-server", cls, codec.decode) for cls in event_classes(ServerEvent)),
    *(("ga-client", cls, codec.decode_client) for cls in event_classes(ClientEvent)),
    *(("beta-server", cls, codec.decode_beta) for cls in event_classes(BetaServerEvent)),
    *(("beta-client", cls, codec.decode_beta_client) for cls in event_classes(BetaClientEvent)),
]


@pytest.mark.parametrize(
    ("cls", "decode"),
    [(cls, decode) for _, cls, decode in CASES],
    ids=[f"{where}-{literal_tag(cls)}" for where, cls, _ in CASES],
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_frame_roundtrips(cls: type[BaseModel], decode: Callable[[str], Any], data: Any) -> None:
    frame = data.draw(for_model(cls))
    text = json.dumps(frame)
    event = decode(text)
    assert type(event) is cls
    assert json.loads(codec.encode(event)) == frame


BETA = [(cls, False) for cls in event_classes(BetaServerEvent)] + [
    (cls, True) for cls in event_classes(BetaClientEvent)
]


@pytest.mark.parametrize(
    ("cls", "client"),
    BETA,
    ids=[("client-" if client else "server-") + literal_tag(cls) for cls, client in BETA],
)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_beta_events_roundtrip_through_ga(cls: type[BaseModel], client: bool, data: Any) -> None:
    frame = data.draw(for_model(cls))
    assume(in_beta_vocabulary(frame))
    _, back = through_ga(json.dumps(frame), client=client)
    assert back is not None
    assert json.loads(codec.encode(back)) == frame
