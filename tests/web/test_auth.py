"""Tokens, Twilio signatures, origins and rate limits: the pure parts of the web server."""

from __future__ import annotations

import base64

import pytest

from realtime_agent.audio.sinks import ManualClock, RemoteSink
from realtime_agent.redact import Secret
from realtime_agent.web.auth import (
    Origins,
    RateLimit,
    TokenError,
    mint_token,
    twilio_signature,
    verify_token,
    verify_twilio_signature,
)
from realtime_agent.web.relay import Outbox, PlaybackEpochs


def test_a_token_carries_its_subject_until_it_expires() -> None:
    token = mint_token(Secret("k"), ttl=60, subject="ada", now=lambda: 1000.0)
    assert verify_token("k", token, now=lambda: 1059.0) == "ada"
    with pytest.raises(TokenError, match="expired"):
        verify_token("k", token, now=lambda: 1060.0)
    assert "k" not in repr(Secret("k")).replace("Secret", "")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "required"),
        ("", "required"),
        (42, "required"),
        ("a.b.c", "malformed"),
        ("x" * 3000, "malformed"),
        ("!!!.???", "malformed"),
    ],
)
def test_bad_tokens_say_why(token: object, reason: str) -> None:
    with pytest.raises(TokenError, match=reason):
        verify_token("k", token)


def test_a_token_signed_otherwise_or_altered_is_refused() -> None:
    token = mint_token("k", ttl=60)
    with pytest.raises(TokenError, match="signature"):
        verify_token("other", token)
    _, _, signature = token.partition(".")
    forged = base64.urlsafe_b64encode(b'{"exp":99999999999,"sub":"x"}').rstrip(b"=").decode()
    with pytest.raises(TokenError, match="signature"):
        verify_token("k", f"{forged}.{signature}")


def test_the_twilio_signature_is_twilios() -> None:
    # The vector twilio-node's own test suite signs: auth token 12345, this URL and these
    # parameters (HMAC-SHA1 over the URL then each name+value in name order, base64).
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    expected = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("12345", url, params) == expected
    assert verify_twilio_signature("12345", expected, url, params)
    assert not verify_twilio_signature("12345", expected, url + "&x=1", params)
    assert not verify_twilio_signature("12345", None, url, params)


@pytest.mark.parametrize(
    ("allowed", "origin", "host", "permitted"),
    [
        ((), None, "h:1", True),  # not a browser: the token decides
        ((), "http://h:1", "h:1", True),  # the page's own origin
        ((), "https://h:1", "h:1", True),
        ((), "http://evil:1", "h:1", False),
        ((), "null", "h:1", False),
        (("https://app.example.com",), "https://APP.example.com/", "h:1", True),
        (("https://app.example.com",), "https://app.example.com.evil", "h:1", False),
        (("*",), "http://anything", "h:1", True),
    ],
)
def test_origins(allowed: tuple[str, ...], origin: str | None, host: str, permitted: bool) -> None:
    assert Origins(allowed).permits(origin, host) is permitted


def test_a_rate_limit_allows_its_burst_then_its_rate() -> None:
    clock = ManualClock()
    limit = RateLimit(10, 5, clock=clock)
    assert all(limit.take() for _ in range(5))
    assert not limit.take()
    clock.advance(0.3)
    assert limit.take() and limit.take() and limit.take()
    assert not limit.take()
    clock.advance(100)
    assert limit.take(5) and not limit.take(0.5)


def test_the_relays_playback_epochs() -> None:
    epochs = PlaybackEpochs()
    assert epochs.position(0, 480) == 480
    assert epochs.cleared(480) == 1  # a barge-in froze the sink at 480
    assert epochs.position(0, 960) is None  # on its way before the clear: ignored
    assert epochs.position(1, 240) == 720
    with pytest.raises(Exception, match="int epoch"):
        epochs.position(1, -1)
    with pytest.raises(Exception, match="int epoch"):
        epochs.position(True, 5)


async def test_the_outbox_drops_queued_audio_on_clear_and_keeps_messages() -> None:
    box = Outbox(limit=100)
    box.audio(b"a" * 40)
    box.control({"type": "x"})
    box.audio(b"b" * 40)
    box.clear()
    assert await box.get() == '{"type":"x"}'
    assert box.size == 0 and not box.overflowed
    box.audio(b"c" * 101)
    assert box.overflowed


def test_a_remote_sink_hands_over_what_it_is_written_and_says_when_cleared() -> None:
    written: list[bytes] = []
    cleared: list[int] = []
    sink = RemoteSink(on_write=written.append, on_clear=lambda: cleared.append(1))
    sink.write(b"\x00\x01" * 100)
    sink.report(40)
    assert sink.clear() == 60 and cleared == [1]
    assert written == [b"\x00\x01" * 100] and sink.written_samples == 40
