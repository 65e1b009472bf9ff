"""The exception tree."""

from __future__ import annotations

from realtime_agent import LocalProtocolError, RealtimeAgentError, RemoteProtocolError
from realtime_agent.errors import RAW_EXCERPT_CHARS, excerpt


def test_one_root_named_by_who_is_at_fault() -> None:
    assert issubclass(LocalProtocolError, RealtimeAgentError)
    assert issubclass(RemoteProtocolError, RealtimeAgentError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)


def test_remote_error_keeps_a_bounded_excerpt_of_the_frame() -> None:
    error = RemoteProtocolError("bad", event_type="error", field="error.message", raw="x" * 10**6)
    assert error.event_type == "error" and error.field == "error.message"
    assert error.raw.startswith("x" * RAW_EXCERPT_CHARS)
    assert error.raw.endswith("(1000000 chars)")
    assert str(error) == "bad"


def test_excerpt_of_bytes_replaces_what_is_not_utf8() -> None:
    assert excerpt(b"ab\xffcd") == "ab\ufffdcd"
    assert excerpt("short") == "short"
