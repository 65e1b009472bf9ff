"""Client CPU per server event: realtime_agent vs openai-agents, on the same stream.

The local server, in a process of its own, answers a text question with a call to
``get_weather`` and then, after the tool's output, with about 60 s of speech sent as
fast as the socket takes it (40 ms ``response.output_audio.delta`` with transcript
deltas, in the GA order). Each client, in a process of its own, asks the question, runs
the tool, consumes every event its API gives the application (touching the decoded
audio), and stops at the second ``response.done``. Figure: the client's process CPU
time from the question to the end, divided by the events the server sent on that
connection. Connecting and the session's setup are not counted (the same for both).

* ours: ``connect(agent, url=...)`` with the default ClockSink playout (no device);
* openai-agents 0.24: ``RealtimeRunner(agent).run(model_config={"url": ...})``, in a
  venv of its own that this script makes (it pins ``websockets<17``; ours must not be
  constrained by it): ``.venv-bench-agents/`` at the top of the project.

Runs alternate between the two; the figure is the median. Printed: µs/event for each,
and ours as a ratio of theirs (target: at most 0.5) and of the floor measured in the
same run: a bare websockets client that only ``json.loads`` each frame and decodes the
audio's base64 (as BENCHMARKS.md's "floor + base64").

Run: ``python bench/session_cpu.py [--quick] [--runs N] [--seconds S] [--no-agents]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

from benchlib import CLIENT_CPU, ServerProcess, machine, pinned

AGENTS = "openai-agents==0.24.0"
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-bench-agents"
QUESTION = "What is the weather like in Paris today?"


# --- the clients (each runs in a process of its own) ------------------------------------


async def ours(url: str) -> dict[str, Any]:
    from realtime_agent.runtime import Agent, connect
    from realtime_agent.runtime import events as ev
    from realtime_agent.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city.
        """
        return json.dumps({"city": city, "sky": "clear", "celsius": 21})

    agent = Agent(instructions="Answer briefly.", tools=[get_weather])
    audio = done = 0
    async with connect(agent, url=url, api_key="sk-bench") as session:
        start = time.process_time()
        await session.send_text(QUESTION)
        async for event in session:
            if isinstance(event, ev.AudioDelta):
                audio += len(event.audio)
            elif isinstance(event, ev.AgentEnd):
                done += 1
                if done == 2:
                    break
        cpu = time.process_time() - start
        events = session.core.events_received
    return {"cpu": cpu, "audio": audio, "events": events}


async def floor(url: str) -> dict[str, Any]:
    """The floor: websockets + json.loads + base64 of the audio, nothing else."""
    from websockets.asyncio.client import connect as ws_connect

    audio = events = done = 0
    async with ws_connect(url, compression=None, max_size=None) as ws:
        await ws.recv()  # session.created
        start = time.process_time()
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": QUESTION}],
                    },
                }
            )
        )
        await ws.send(json.dumps({"type": "response.create"}))
        async for frame in ws:
            event = json.loads(frame)
            events += 1
            kind = event["type"]
            if kind == "response.output_audio.delta":
                audio += len(base64.b64decode(event["delta"]))
            elif kind == "response.function_call_arguments.done":
                output = json.dumps({"city": "Paris", "sky": "clear", "celsius": 21})
                item = {"type": "function_call_output", "call_id": event["call_id"]}
                item["output"] = output
                await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            elif kind == "response.done":
                done += 1
                if done == 2:
                    break
                await ws.send(json.dumps({"type": "response.create"}))
        cpu = time.process_time() - start
    return {"cpu": cpu, "audio": audio, "events": events}


# --- the bench --------------------------------------------------------------------------


def agents_python() -> Path:
    """The venv with openai-agents, made on first use."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".{AGENTS}"
    if not stamp.exists():
        print(f"making {VENV.name}/ with {AGENTS} (once)...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", AGENTS],
            check=True,
        )
        stamp.touch()
    return python


def run_client(command: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, preexec_fn=pinned(CLIENT_CPU)
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[1]} failed:\n{result.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s of speech, 1 run (smoke)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0, help="speech in the answer")
    parser.add_argument("--no-agents", action="store_true", help="skip openai-agents")
    parser.add_argument("--client", choices=["ours", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client = ours if args.client == "ours" else floor
        print(json.dumps(asyncio.run(client(args.url))))
        return
    runs, seconds = (1, 10.0) if args.quick else (args.runs, args.seconds)
    me = [sys.executable, __file__]
    clients: dict[str, list[str]] = {
        "floor": [*me, "--client", "floor", "--url"],
        "realtime_agent": [*me, "--client", "ours", "--url"],
    }
    if not args.no_agents:
        agents = str(agents_python())
        clients["openai-agents"] = [agents, str(Path(__file__).with_name("agents_client.py"))]
    figures: dict[str, list[float]] = {name: [] for name in clients}
    counts: dict[str, int] = {}
    print(f"machine: {machine()}")
    with ServerProcess("reply", seconds=seconds) as server:
        for _ in range(runs):
            for name, command in clients.items():
                result = run_client([*command, server.url])
                figures[name].append(result["cpu"])
                counts[name] = result["audio"]
    sent = server.events_sent
    per_run = len(clients)
    # One connection per client run, each client's alike (their setups differ by an event
    # or two: ours and openai-agents send session.update, the floor does not).
    if len(sent) != runs * per_run or any(len(set(sent[i::per_run])) != 1 for i in range(per_run)):
        raise SystemExit(f"expected {runs} alike conversations per client, got {sent}")
    print(f"stream: {seconds:.0f} s of speech, {sent[0]} server events per conversation (floor)")
    print(f"{'client':>16} {'µs/event':>9} {'x floor':>8} {'runs (ms CPU)':>20}")
    micros: dict[str, float] = {}
    for index, name in enumerate(clients):
        events = sent[index::per_run]
        per_event = [cpu / n * 1e6 for cpu, n in zip(figures[name], events, strict=True)]
        micros[name] = statistics.median(per_event)
        cpus = " ".join(f"{cpu * 1000:.0f}" for cpu in figures[name])
        ratio = micros[name] / micros["floor"]
        print(f"{name:>16} {micros[name]:>9.1f} {ratio:>8.2f} {cpus:>20}")
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the clients saw different audio: {counts}")
    if "openai-agents" in micros:
        ratio = micros["realtime_agent"] / micros["openai-agents"]
        print(f"realtime_agent / openai-agents: {ratio:.2f} (target: at most 0.50)")


if __name__ == "__main__":
    main()
