"""Placeholder: the Twilio bridge lands in the next commit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket


async def twilio_voice(request: Request) -> Response:
    """Not yet."""
    return PlainTextResponse("not yet", status_code=503)


async def twilio_stream(websocket: WebSocket) -> None:
    """Not yet."""
    await websocket.close(1013)
