"""The openai-agents side of ``session_cpu.py``; runs in its own venv (see there).

``python agents_client.py URL`` runs one conversation against the bench server with
openai-agents' ``RealtimeSession``: a text question, the tool call it brings, the
spoken answer, to the second ``response.done``. Prints JSON: the CPU seconds spent from
the question to the end, and the audio bytes and server events seen.

It consumes every session event, as an application would, and touches the decoded
audio of each ``audio`` event, as ours does; nothing is played.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from agents import function_tool
from agents.realtime import RealtimeAgent, RealtimeRunner


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city.
    """
    return json.dumps({"city": city, "sky": "clear", "celsius": 21})


async def main(url: str) -> None:
    agent = RealtimeAgent(name="bench", instructions="Answer briefly.", tools=[get_weather])
    session = await RealtimeRunner(agent).run(model_config={"url": url, "api_key": "sk-bench"})
    audio = events = done = 0
    async with session:
        start = time.process_time()
        await session.send_message("What is the weather like in Paris today?")
        async for event in session:
            if event.type == "audio":
                audio += len(event.audio.data)
            elif event.type == "raw_model_event" and event.data.type == "raw_server_event":
                events += 1
                if event.data.data.get("type") == "response.done":
                    done += 1
                    if done == 2:
                        break
        cpu = time.process_time() - start
    print(json.dumps({"cpu": cpu, "audio": audio, "events": events}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
