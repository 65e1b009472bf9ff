"""@tool: schemas from type hints and docstrings; dispatch that always answers."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from realtime_agent.errors import LocalProtocolError
from realtime_agent.tools import Handoff, Tool, run_call, tool


@tool
def book_table(
    city: str,
    guests: Annotated[int, Field(ge=1, le=12)],
    time_of_day: Literal["lunch", "dinner"] = "dinner",
    notes: str | None = None,
) -> str:
    """Book a table at a restaurant.

    Args:
        city: The city, e.g. "Paris".
        guests: How many people.
        time_of_day: Lunch or dinner.
    Returns:
        A confirmation.
    """
    return f"Booked for {guests} in {city} ({time_of_day})"


def test_schema_comes_from_hints_and_docstring() -> None:
    definition = book_table.definition()
    assert definition.name == "book_table"
    assert definition.description == "Book a table at a restaurant."
    parameters = definition.parameters
    assert parameters is not None
    assert parameters["type"] == "object" and parameters["additionalProperties"] is False
    assert parameters["required"] == ["city", "guests"]
    properties = parameters["properties"]
    assert properties["city"]["description"] == 'The city, e.g. "Paris".'
    assert properties["guests"]["minimum"] == 1 and properties["guests"]["maximum"] == 12
    assert properties["time_of_day"]["enum"] == ["lunch", "dinner"]
    assert properties["time_of_day"]["default"] == "dinner"
    assert not book_table.is_async
    assert book_table("Rome", 2) == "Booked for 2 in Rome (dinner)"  # still callable


def test_overrides() -> None:
    @tool(name="lookup-v2", description="Look something up.", timeout=None)
    async def lookup(query: str) -> str:
        """Ignored."""
        return query

    assert (lookup.name, lookup.description, lookup.timeout, lookup.is_async) == (
        "lookup-v2",
        "Look something up.",
        None,
        True,
    )


def test_functions_that_cannot_be_described_are_refused() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    with pytest.raises(LocalProtocolError, match="'city' needs a type hint"):
        tool(untyped)

    def variadic(*cities: str) -> str:
        return ""

    with pytest.raises(LocalProtocolError, match=r"\*args"):
        tool(variadic)
    with pytest.raises(LocalProtocolError, match="tool name"):
        tool(name="has spaces")(lambda: None)


async def test_valid_arguments_run_the_function() -> None:
    result = await run_call(book_table, '{"city": "Oslo", "guests": 4, "time_of_day": "lunch"}')
    assert result == type(result)("Booked for 4 in Oslo (lunch)")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("not json", "Invalid JSON"),
        ('{"city": "Oslo"}', "guests: Field required"),
        ('{"city": "Oslo", "guests": 40}', "guests: Input should be less than or equal to 12"),
        (
            '{"city": "Oslo", "guests": 2, "smoking": true}',
            "smoking: Extra inputs are not permitted",
        ),
        ("[]", "Input should be an object"),
    ],
)
async def test_invalid_arguments_are_answered_with_what_is_wrong(
    arguments: str, expected: str
) -> None:
    result = await run_call(book_table, arguments)
    assert result.error is not None and expected in result.error
    assert expected in json.loads(result.output)["error"]


class Forecast(BaseModel):
    sky: str
    celsius: float


@dataclass
class Reading:
    value: int


async def test_outputs_are_json_unless_strings() -> None:
    @tool
    def forecast() -> Forecast:
        """A forecast."""
        return Forecast(sky="clear", celsius=21.5)

    @tool
    def reading() -> Reading:
        """A reading."""
        return Reading(3)

    @tool
    def nothing() -> None:
        """Nothing."""

    assert json.loads((await run_call(forecast, "{}")).output) == {"sky": "clear", "celsius": 21.5}
    assert json.loads((await run_call(reading, "")).output) == {"value": 3}
    assert (await run_call(nothing, "{}")).output == "null"


async def test_exceptions_and_time_outs_become_answers() -> None:
    @tool
    async def fails() -> str:
        """Fails."""
        raise RuntimeError("database down")

    @tool(timeout=0.05)
    async def slow() -> str:
        """Too slow."""
        await asyncio.sleep(10)
        return "late"

    @tool(timeout=0.05)
    def blocking() -> str:
        """Blocks its thread."""
        time.sleep(1)
        return "late"

    assert (await run_call(fails, "{}")).error == "fails failed: RuntimeError: database down"
    assert (await run_call(slow, "{}")).error == "slow timed out after 0.05 s"
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert (await run_call(blocking, "{}")).error == "blocking timed out after 0.05 s"
    assert loop.time() - began < 0.5  # the thread is abandoned, not awaited


async def test_a_sync_tool_runs_off_the_event_loop() -> None:
    loop_thread = []

    @tool
    def where() -> str:
        """Which thread."""
        import threading

        loop_thread.append(threading.current_thread().name)
        return "ok"

    assert (await run_call(where, "{}")).output == "ok"
    assert loop_thread == ["realtime-agent-tool"]


async def test_a_handoff_is_carried_in_the_result() -> None:
    @dataclass
    class Target:
        name: str = "billing"
        instructions: str = "You handle billing."
        voice: str | None = None
        tools: tuple[Tool, ...] = ()

    target = Target()

    @tool
    def transfer() -> Handoff:
        """Hand over to billing."""
        return Handoff(target)

    result = await run_call(transfer, "{}")
    assert result.handoff is not None and result.handoff.agent == target
    assert json.loads(result.output)["handoff"] == "billing"
