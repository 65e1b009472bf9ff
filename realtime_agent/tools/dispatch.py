"""Running one tool call: validate the arguments, run with a time-out, always answer.

:func:`run_call` never raises for what the tool or the model got wrong: arguments that
are not JSON or do not fit the signature, an exception in the tool, a time-out, all
become a :class:`ToolResult` whose ``output`` the model can read (a JSON object with an
``error``) and whose ``error`` the application sees. Sync tools run in a daemon thread:
a hung one cannot be killed, so on time-out its late result is discarded, and it never
keeps the process or ``close()`` waiting.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from realtime_agent.tools.handoff import Handoff
from realtime_agent.tools.tool import Tool

__all__ = ["ToolResult", "run_call"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A call's answer: the output for the model, and what went wrong, if anything."""

    output: str
    error: str | None = None
    handoff: Handoff | None = None


def _failure(message: str) -> ToolResult:
    return ToolResult(json.dumps({"error": message}), error=message)


def _output(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return to_json(value).decode()
    except Exception:
        return json.dumps(str(value))


async def _in_thread(function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def work() -> None:
        try:
            result: tuple[bool, Any] = (True, function(**arguments))
        except BaseException as exc:
            result = (False, exc)
        try:
            loop.call_soon_threadsafe(settle, *result)
        except RuntimeError:
            pass  # the loop is gone: the session ended, the result is discarded

    threading.Thread(target=work, name="realtime-agent-tool", daemon=True).start()
    return await future


async def run_call(tool: Tool, arguments: str) -> ToolResult:
    """Run ``tool`` with the model's JSON ``arguments`` (see the module docstring)."""
    try:
        parsed = tool.arguments.model_validate_json(arguments or "{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        return _failure(f"Invalid arguments for {tool.name}: {problems}")
    values = {name: getattr(parsed, name) for name in type(parsed).model_fields}
    try:
        async with asyncio.timeout(tool.timeout):
            if tool.is_async:
                value = await tool.function(**values)
            else:
                value = await _in_thread(tool.function, values)
    except TimeoutError:
        return _failure(f"{tool.name} timed out after {tool.timeout:g} s")
    except Exception as exc:
        return _failure(f"{tool.name} failed: {type(exc).__name__}: {exc}")
    if isinstance(value, Handoff):
        message = value.message or f"The conversation was handed to {value.agent.name}."
        return ToolResult(
            json.dumps({"handoff": value.agent.name, "message": message}), handoff=value
        )
    return ToolResult(_output(value))
