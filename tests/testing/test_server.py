"""ServerThread: a local server on its own loop in a background thread."""

from __future__ import annotations

import threading

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_sync

from realtime_agent.server import LocalRealtimeServer, ScriptedResponder
from realtime_agent.server.script import ScriptError
from realtime_agent.testing import ServerThread, start_server


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "realtime-agent-local-server"]


def test_start_serve_stop_and_nothing_is_left_running() -> None:
    with start_server(responder=ScriptedResponder(["Hi."])) as server:
        assert server.running and len(server_threads()) == 1
        assert server.url == f"{server.base_url}/v1/realtime?model=gpt-realtime"
        with connect_sync(server.url) as ws:
            assert '"session.created"' in str(ws.recv(timeout=10))
        assert "running" in repr(server)
    assert not server.running and server_threads() == []
    assert len(server.sessions) == 1  # kept, to inspect after the test
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="starts once"):
        server.start()


def test_a_client_left_connected_is_disconnected_at_stop() -> None:
    server = start_server()
    with connect_sync(server.url) as ws:
        ws.recv(timeout=10)
        server.stop()  # not waiting for a closing handshake the client may never answer
        with pytest.raises(ConnectionClosed) as caught:
            while True:
                ws.recv(timeout=10)
    assert caught.value.rcvd is None  # dropped, not closed with a close frame
    assert server_threads() == []


def test_a_port_in_use_fails_at_start() -> None:
    with start_server() as first:
        with pytest.raises(OSError):
            ServerThread(LocalRealtimeServer(port=first.server.port)).start()
    assert server_threads() == []


def test_a_script_or_a_responder() -> None:
    with pytest.raises(TypeError, match="not both"):
        start_server('[[turn]]\nsay = "a"\n', responder=ScriptedResponder([]))
    with pytest.raises(ScriptError, match=r"^<script>:1: unknown key 'sya'"):
        start_server('sya = "a"\n')
    with start_server('[[turn]]\nsay = "a"\n') as server:
        assert server.script is not None and server.script.turns[0].number == 1
        server.check(finished=False)
        with pytest.raises(AssertionError, match="1 of 1 turns were not played"):
            server.check(finished=True)
