"""A tool that ends the call: the assistant says goodbye, is heard, and hangs up.

A phone agent or a kiosk must be able to end the conversation itself. The tool reaches
its session with ``current_session()``, waits until the goodbye has been heard, and
closes the session from inside: the close neither cancels nor waits for the tool that
asked for it, and the application's event stream ends with ``Closed``.

Runs offline against the embedded local Realtime server (a scripted stand-in for the
model), or against OpenAI when OPENAI_API_KEY is set:

    python examples/hang_up.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from realtime_agent import Agent, connect, current_session, events, tool
from realtime_agent.server import CallTool, LocalRealtimeServer, Say, ScriptedResponder


@tool
async def hang_up(reason: str = "the caller said goodbye") -> str:
    """End the call, once you have said goodbye.

    Args:
        reason: Why the call ends.
    """
    session = current_session()
    with contextlib.suppress(TimeoutError):  # a far end that stalls: hang up regardless
        async with asyncio.timeout(10):
            await session.wait_for_playout()  # let the goodbye be heard first
    print(f"(hanging up: {reason})")
    await session.close()
    return "the call has ended"  # nobody hears this: the session is closed


AGENT = Agent(
    instructions="You are a receptionist. When the caller is done, say goodbye and hang up.",
    tools=[hang_up],
)

SCRIPT = ScriptedResponder(
    [[Say("Thanks for calling, goodbye!"), CallTool("hang_up", {"reason": "goodbye said"})]]
)


async def call(url: str | None) -> None:
    async with connect(AGENT, url=url) as session:
        await session.send_text("That's all, thanks. Bye!")
        async for event in session:
            match event:
                case events.Transcript(role="assistant", text=text):
                    print(f"assistant: {text}")
                case events.ToolStart(name=name):
                    print(f"tool call: {name}")
                case events.Closed(reason=reason, error=error):
                    print(f"call ended: {reason}" + (f" ({error})" if error else ""))


async def main() -> None:
    if os.environ.get("OPENAI_API_KEY"):
        await call(None)
        return
    async with LocalRealtimeServer(responder=SCRIPT) as server:
        print(f"(offline: the local Realtime server at {server.url})")
        await call(server.url)


if __name__ == "__main__":
    asyncio.run(main())
