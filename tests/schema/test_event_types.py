"""The event vocabularies: the counts per direction and dialect, and full example coverage."""

from __future__ import annotations

import json

from realtime_agent.schema import (
    BETA_CLIENT_EVENT_TYPES,
    BETA_SERVER_EVENT_TYPES,
    GA_CLIENT_EVENT_TYPES,
    GA_EXTRA_CLIENT_EVENT_TYPES,
    GA_EXTRA_SERVER_EVENT_TYPES,
    GA_SERVER_EVENT_TYPES,
)
from realtime_agent.schema.dialect import SERVER_EVENT_NAMES_BETA_TO_GA
from tests.schema.published import examples


def example_types(dialect: str, client: bool) -> set[str]:
    return {
        json.loads(e.text)["type"]
        for e in examples()
        if e.dialect == dialect and e.client == client
    }


def test_counts_per_direction_and_dialect() -> None:
    assert len(GA_CLIENT_EVENT_TYPES) == 11
    assert len(GA_SERVER_EVENT_TYPES) == 46
    assert GA_EXTRA_CLIENT_EVENT_TYPES == {"transcription_session.update"}
    assert GA_EXTRA_SERVER_EVENT_TYPES == {"transcription_session.updated"}
    assert len(BETA_CLIENT_EVENT_TYPES) == 12
    assert len(BETA_SERVER_EVENT_TYPES) == 34


def test_every_ga_type_has_its_published_example_and_no_more() -> None:
    assert example_types("ga", client=True) == GA_CLIENT_EVENT_TYPES | GA_EXTRA_CLIENT_EVENT_TYPES
    assert example_types("ga", client=False) == GA_SERVER_EVENT_TYPES | GA_EXTRA_SERVER_EVENT_TYPES


def test_every_beta_type_has_its_published_example() -> None:
    assert example_types("beta", client=True) == BETA_CLIENT_EVENT_TYPES
    # The beta "retrieved" example is mislabelled "created" in the spec.
    published = example_types("beta", client=False) | {"conversation.item.retrieved"}
    assert published == BETA_SERVER_EVENT_TYPES


def test_beta_differs_from_ga_only_by_the_renames_and_the_ga_only_events() -> None:
    renamed_in_beta = set(SERVER_EVENT_NAMES_BETA_TO_GA)
    assert renamed_in_beta <= BETA_SERVER_EVENT_TYPES
    assert not renamed_in_beta & GA_SERVER_EVENT_TYPES
    shared = BETA_SERVER_EVENT_TYPES - renamed_in_beta - GA_EXTRA_SERVER_EVENT_TYPES
    assert shared <= GA_SERVER_EVENT_TYPES
    assert BETA_CLIENT_EVENT_TYPES == GA_CLIENT_EVENT_TYPES | GA_EXTRA_CLIENT_EVENT_TYPES
