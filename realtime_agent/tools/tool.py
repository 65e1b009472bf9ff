"""``@tool``: a typed Python function as a function tool the model can call.

The name comes from the function, the description from its docstring, and the JSON
Schema of the parameters from its type hints, through Pydantic, which also validates
the model's arguments before the function sees them::

    @tool
    async def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        \"\"\"Current weather for a city.

        Args:
            city: The city, e.g. "Paris".
            unit: The temperature unit.
        \"\"\"

``@tool(name=..., description=..., timeout=...)`` overrides them. Sync functions run in a
worker thread, so a slow one never stalls the audio.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, create_model

from realtime_agent.errors import LocalProtocolError
from realtime_agent.schema.session import FunctionTool

__all__ = ["DEFAULT_TIMEOUT", "Tool", "tool"]

#: Seconds a tool may run before its call is answered with a time-out error.
DEFAULT_TIMEOUT = 30.0

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class Tool:
    """A function tool: what the model is told about it, and how to run it."""

    name: str
    description: str
    function: Callable[..., Any] = field(repr=False)
    arguments: type[BaseModel] = field(repr=False)
    """The Pydantic model the model's JSON arguments are validated against."""
    timeout: float | None = DEFAULT_TIMEOUT
    is_async: bool = False

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the arguments."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return schema

    def definition(self) -> FunctionTool:
        """The function tool as ``session.update`` declares it."""
        return FunctionTool(
            name=self.name, description=self.description, parameters=self.parameters
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (as in a test)."""
        return self.function(*args, **kwargs)


def _docstring(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The description (before ``Args:``) and each argument's description."""
    doc = inspect.getdoc(function) or ""
    description: list[str] = []
    arguments: dict[str, str] = {}
    section = "description"
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            section, current = "args", None
            continue
        if stripped.endswith(":") and stripped[:-1] in (
            "Returns",
            "Raises",
            "Yields",
            "Example",
            "Examples",
            "Note",
        ):
            section = "other"
            continue
        if section == "description":
            description.append(line)
        elif section == "args":
            match = _ARG_LINE.match(line)
            if match and (not line.startswith(" " * 8) or current is None):
                current = match.group(1).lstrip("*")
                arguments[current] = match.group(2).strip()
            elif current is not None and stripped:
                arguments[current] = f"{arguments[current]} {stripped}".strip()
    return "\n".join(description).strip(), arguments


def _build(
    function: Callable[..., Any],
    name: str | None,
    description: str | None,
    timeout: float | None,
) -> Tool:
    tool_name = name or function.__name__
    if not _NAME.match(tool_name):
        raise LocalProtocolError(
            f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'"
        )
    summary, documented = _docstring(function)
    try:
        hints = get_type_hints(function, include_extras=True)
    except NameError as exc:
        raise LocalProtocolError(f"tool {tool_name}: cannot resolve a type hint ({exc})") from exc
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise LocalProtocolError(
                f"tool {tool_name}: *args and **kwargs cannot be described to the model"
            )
        if parameter.name not in hints:
            raise LocalProtocolError(
                f"tool {tool_name}: parameter {parameter.name!r} needs a type hint"
            )
        default = ... if parameter.default is parameter.empty else parameter.default
        info = Field(default, description=documented.get(parameter.name))
        fields[parameter.name] = (hints[parameter.name], info)
    config = ConfigDict(extra="forbid")
    model = create_model(f"{tool_name}_arguments", __config__=config, **fields)
    return Tool(
        name=tool_name,
        description=description if description is not None else summary,
        function=function,
        arguments=model,
        timeout=timeout,
        is_async=inspect.iscoroutinefunction(function),
    )


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a typed function a tool (see the module docstring).

    Raises LocalProtocolError when the function cannot be described to the model: a
    parameter without a type hint, ``*args``/``**kwargs``, or an invalid name.
    ``timeout`` (seconds, None for none) bounds each call.
    """
    if function is not None:
        return _build(function, name, description, timeout)

    def decorate(inner: Callable[..., Any]) -> Tool:
        return _build(inner, name, description, timeout)

    return decorate
