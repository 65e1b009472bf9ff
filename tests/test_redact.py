"""Keys out of sight: a Secret that is never serialised, and loggers that hide known keys
in every record, tried with a real websockets client against hostile plain-websockets
servers that echo the key back."""

from __future__ import annotations

import copy
import gc
import logging
import pickle
import weakref
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from realtime_agent.redact import Secret, redacting_logger
from realtime_agent.runtime.transport import Endpoint
from realtime_agent.server import LocalRealtimeServer
from realtime_agent.server.speech import SyntheticVoice

KEY = "sk-proj-Zq9Xv4Lm2Rt7Wb1Nc8Hd5Jf3Kg6Ps0Ty"
HOSTILE = "tests.redact.hostile"


def fragments(text: str, size: int = 6) -> Iterator[str]:
    """Every piece of ``text`` of ``size`` characters: none of them may show."""
    return (text[i : i + size] for i in range(len(text) - size + 1))


def leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The captured messages and tracebacks that show any piece of the key."""
    formatter = logging.Formatter()
    texts = [formatter.format(record) for record in caplog.records]
    return [text for text in texts if any(piece in text for piece in fragments(KEY))]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, except the hostile server's own lines (it knows the key)."""
    caplog.set_level(logging.WARNING, logger=HOSTILE)
    caplog.set_level(logging.DEBUG)  # second: each call sets the capturing handler's level too
    return caplog


def echo_401(connection: ServerConnection, request: Request) -> Response:
    """Refuse the upgrade, echoing the key in response headers and in the body."""
    echoed = request.headers.get("Authorization", "")
    response = connection.respond(HTTPStatus.UNAUTHORIZED, f"bad key: {echoed}\n")
    response.headers["WWW-Authenticate"] = f'Bearer realm="{echoed}"'
    response.headers["X-Echo"] = echoed
    return response


async def test_a_401_that_echoes_the_key_shows_it_in_no_log_record(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger(HOSTILE)
    async with serve(
        ServerConnection.wait_closed, "127.0.0.1", 0, process_request=echo_401, logger=logger
    ) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(InvalidStatus) as refused:
            await ws_connect(
                f"ws://127.0.0.1:{port}/v1/realtime",
                additional_headers=[("Authorization", f"Bearer {KEY}")],
                logger=redacting_logger("tests.redact.client", secrets=(Secret(KEY),)),
            )
    assert KEY.encode() in refused.value.response.body  # the server did echo it...
    messages = [record.getMessage() for record in debug_logs.records]
    assert "> Authorization: ***" in messages  # ...the request header is hidden by name
    assert "< X-Echo: ***" in messages  # ...response headers by value
    assert '< WWW-Authenticate: Bearer realm="***"' in messages
    assert not leaks(debug_logs)


async def test_an_open_connection_that_echoes_the_key_shows_it_in_no_log_record(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """In a 101 response header, in a short text frame, and in a long one whose logged
    form is elided in the middle of the key (websockets shows a frame's start and end)."""

    def echo_101(connection: ServerConnection, request: Request, response: Response) -> None:
        response.headers["X-Echo"] = request.headers.get("Authorization", "")

    async def handler(ws: ServerConnection) -> None:
        await ws.send(f'{{"error":"bad key {KEY}"}}')
        await ws.send("x" * 30 + KEY + "y" * 300 + KEY[:10] + "|" + KEY + "z" * 5)
        await ws.wait_closed()

    logger = logging.getLogger(HOSTILE)
    async with serve(handler, "127.0.0.1", 0, process_response=echo_101, logger=logger) as server:
        port = server.sockets[0].getsockname()[1]
        async with ws_connect(
            f"ws://127.0.0.1:{port}/v1/realtime",
            additional_headers=[("Authorization", f"Bearer {KEY}")],
            logger=redacting_logger("tests.redact.client", secrets=(Secret(KEY),)),
        ) as ws:
            assert KEY in str(await ws.recv()) and KEY in str(await ws.recv())
    client = [r for r in debug_logs.records if r.name == "tests.redact.client"]
    messages = [record.getMessage() for record in client]
    assert "< X-Echo: ***" in messages
    assert any(m.startswith("< TEXT") and "***" in m for m in messages)  # frames were logged
    assert not leaks(debug_logs)
    # The connection's own context survives (websockets wraps our adapter in its own),
    # and each record names websockets' line, not ours, as where it was logged.
    assert all(hasattr(record, "websocket") for record in client if record.msg.startswith("<"))
    assert all(record.filename != "redact.py" for record in client)


async def test_the_local_server_logs_its_connections_without_a_key(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """Its connection lines (``serve -v``) and websockets' handshakes and frames at DEBUG,
    for the key in each place a client may send it, and for a wrong key."""

    wrong = "sk-proj-Wrong7Wb1Nc8Hd5Jf3Kg6Ps0TyQ"
    client_logger = redacting_logger("tests.redact.client", secrets=(Secret(KEY), Secret(wrong)))
    # The cheap parts (no espeak-ng, no recognizer): this test is about the logs.
    server = LocalRealtimeServer(
        api_key=KEY, synthesizer=SyntheticVoice(), recognizer="off", vad="energy"
    )
    async with server:
        ga, azure = "/v1/realtime?model=gpt-realtime", "/openai/v1/realtime?model=gpt-realtime"
        bearer = [("Authorization", f"Bearer {KEY}")]
        for path, headers, protocols in [
            (ga, bearer, None),
            (azure, [("api-key", KEY)], None),
            (ga, [], ["realtime", f"openai-insecure-api-key.{KEY}"]),
        ]:
            async with ws_connect(
                server.base_url + path,
                additional_headers=headers,
                subprotocols=None if protocols is None else [Subprotocol(p) for p in protocols],
                logger=client_logger,
            ) as ws:
                await ws.recv()  # session.created
        with pytest.raises(InvalidStatus):
            await ws_connect(
                server.url,
                additional_headers=[("Authorization", f"Bearer {wrong}")],
                logger=client_logger,
            )
    ours = [r.getMessage() for r in debug_logs.records if r.name == "realtime_agent.server"]
    assert sum(" connected: " in m for m in ours) == 3, ours
    assert sum(" ended after " in m for m in ours) == 3, ours
    assert any("refused (HTTP 401): a wrong key was sent" in m for m in ours), ours
    assert any(r.name == "realtime_agent.server.websockets" for r in debug_logs.records)
    assert not leaks(debug_logs)
    formatter = logging.Formatter()
    texts = [formatter.format(record) for record in debug_logs.records]
    assert not [text for text in texts if any(piece in text for piece in fragments(wrong))]


def test_the_key_is_hidden_in_arguments_objects_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    logger = redacting_logger("tests.redact.direct", secrets=(Secret(KEY), None, Secret("")))
    headers = Headers({"X-Echo": KEY})
    logger.debug("%s", headers)  # an object whose str() shows the key
    logger.debug("token %s, raw %s", f"Bearer {KEY}", KEY)
    logger.debug("%(where)s got %(key)s", {"where": "here", "key": KEY})
    logger.info(f"formatted before the call: {KEY}")
    try:
        raise ValueError(f"the server said {KEY}")
    except ValueError:
        logger.error("handshake failed", exc_info=True)
    logger.warning("stack", stack_info=True, extra={"note": "kept"})
    messages = [record.getMessage() for record in caplog.records]
    assert messages[1] == "token ***, raw ***"
    assert messages[2] == "here got ***"
    assert messages[3] == "formatted before the call: ***"
    traceback = logging.Formatter().format(caplog.records[4])
    assert "ValueError: the server said ***" in traceback
    assert caplog.records[5].__dict__["note"] == "kept"  # the caller's extra survives
    assert not leaks(caplog)
    assert KEY not in caplog.text


def test_records_without_the_key_are_left_as_they_are(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logger = redacting_logger("tests.redact.direct", secrets=(Secret(KEY),))
    error = ValueError("nothing secret")
    logger.debug("< %s: %s", "Content-Type", "text/plain")
    logger.error("failed", exc_info=error)
    first, second = caplog.records
    assert first.msg == "< %s: %s" and first.args == ("Content-Type", "text/plain")
    assert second.exc_info is not None and second.exc_info[1] is error


def test_redacting_loggers_share_one_filter_and_hold_no_secret() -> None:
    """One logger per connection, thousands of connections: nothing accumulates."""
    name = "tests.redact.many"
    adapters = [redacting_logger(name, secrets=(Secret(f"sk-{i}"),)) for i in range(5000)]
    last = weakref.ref(adapters[-1])
    named = logging.getLogger(name)
    assert len(named.filters) == 1 and not named.handlers
    assert all(adapter.logger is named for adapter in adapters)
    del adapters
    gc.collect()
    assert last() is None  # the shared logger keeps no connection's adapter
    assert len(redacting_logger(name).logger.filters) == 1


def test_a_secret_is_never_serialised_but_copies() -> None:
    secret = Secret(KEY)
    endpoint = Endpoint.local("ws://127.0.0.1:1/v1/realtime", api_key=secret)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        for value in (secret, endpoint):
            with pytest.raises(TypeError, match="never serialised"):
                pickle.dumps(value, protocol)
    assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret
    for copied in (copy.copy(endpoint), copy.deepcopy(endpoint)):
        assert copied == endpoint and copied.key is not None and copied.key.reveal() == KEY
