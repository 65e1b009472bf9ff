"""Function-call bookkeeping: every call the model makes is answered exactly once.

A call is known from ``response.output_item.added`` (its name, which the beta dialect
does not repeat later), starts on ``response.function_call_arguments.done``, and is
answered by one ``function_call_output``, whatever happens: the tool raises, hangs,
does not exist, or the response is cancelled.
"""

from __future__ import annotations

from collections import OrderedDict

from realtime_agent.protocol.actions import ToolCall

__all__ = ["CallBook"]

#: Announced calls whose arguments have not come yet, remembered by name at most.
MAX_ANNOUNCED = 256


class CallBook:
    """Which calls exist, which run, which are answered."""

    def __init__(self) -> None:
        self._names: OrderedDict[str, str] = OrderedDict()
        self._running: dict[str, ToolCall] = {}
        self._answered: set[str] = set()
        self.outputs: dict[str, str] = {}
        """The output sent for each answered call (replayed after a reconnect)."""
        self._by_response: dict[str, set[str]] = {}

    def named(self, call_id: str, name: str) -> None:
        """A call was announced with its function name (the oldest names are forgotten
        past :data:`MAX_ANNOUNCED`: a server announcing calls it never makes)."""
        self._names[call_id] = name
        while len(self._names) > MAX_ANNOUNCED:
            self._names.popitem(last=False)

    def name_of(self, call_id: str) -> str | None:
        """The function name announced for a call, if any."""
        return self._names.get(call_id)

    def start(self, call: ToolCall) -> bool:
        """A call's arguments are complete; False if it was seen before (a duplicate)."""
        if call.call_id in self._running or call.call_id in self._answered:
            return False
        self._running[call.call_id] = call
        self._by_response.setdefault(call.response_id, set()).add(call.call_id)
        return True

    def answer(self, call_id: str, output: str = "") -> ToolCall | None:
        """Mark a call answered with ``output``; the call, or None if it is unknown or was
        answered already."""
        call = self._running.pop(call_id, None)
        if call is not None:
            self._answered.add(call_id)
            self.outputs[call_id] = output
        return call

    def knows(self, call_id: str) -> bool:
        """True for a call started and not yet forgotten (running or answered)."""
        return call_id in self._running or call_id in self._answered

    def running(self) -> list[ToolCall]:
        """The calls started and not yet answered."""
        return list(self._running.values())

    def all_answered(self, response_id: str) -> bool:
        """True when every call of a response has its answer."""
        return not any(c in self._running for c in self._by_response.get(response_id, ()))

    def calls_of(self, response_id: str) -> set[str]:
        """The call ids a response made."""
        return set(self._by_response.get(response_id, ()))

    def forget(self, response_id: str) -> None:
        """Drop what is remembered of a finished response's calls (bounded memory)."""
        for call_id in self._by_response.pop(response_id, set()):
            if call_id not in self._running:
                self._answered.discard(call_id)
                self._names.pop(call_id, None)
                self.outputs.pop(call_id, None)
