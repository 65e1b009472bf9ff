"""The runtime as the voice backend of your own product: you own the audio I/O.

Your transport (a browser over WebRTC or a WebSocket, a phone bridge) hands you the
caller's audio and plays the assistant's. You feed the caller's pcm16 24 kHz frames to
``session.send_audio``, forward each ``AudioDelta`` to the far end, and report what the
far end has actually played to a ``RemoteSink``, so that when the caller barges in the
assistant's turn is cut at exactly what they heard.

This example plays both ends itself, offline, against the embedded local server:

    python examples/backend_embed.py
"""

from __future__ import annotations

import asyncio

from realtime_agent import Agent, RemoteSink, connect, events
from realtime_agent.server import LocalRealtimeServer, Pacing, ScriptedResponder, SyntheticVoice

CALLER = SyntheticVoice(pitch_hz=190.0, seed=1)


def caller_says(text: str) -> bytes:
    return bytes(48 * 300) + CALLER.synthesize(text).pcm + bytes(48 * 700)


class FarEnd:
    """Stands in for the browser: plays what it is sent, in real time, and says how far it got."""

    def __init__(self, sink: RemoteSink) -> None:
        self.sink = sink
        self.queued = 0
        self.started: float | None = None

    def play(self, audio: bytes) -> None:
        loop = asyncio.get_running_loop()
        if self.started is None:
            self.started = loop.time()
        self.queued += len(audio) // 2

    def report(self) -> None:
        if self.started is not None:
            elapsed = asyncio.get_running_loop().time() - self.started
            self.sink.report(min(self.queued, int(elapsed * 24000)))


async def main() -> None:
    long_answer = (
        "Our opening hours are nine to five on weekdays, and ten to four on Saturdays, " * 2
    )
    responder = ScriptedResponder([long_answer, "Sure, what else would you like to know?"])
    async with LocalRealtimeServer(responder=responder, pacing=Pacing.realtime()) as server:
        sink = RemoteSink()
        far_end = FarEnd(sink)
        async with connect(Agent(), url=server.url, audio_out=sink) as session:
            await session.send_audio(caller_says("when are you open"))
            interrupted = False
            async for event in session:
                far_end.report()  # in real life: whenever the far end tells you
                match event:
                    case events.AudioDelta(audio=audio):
                        far_end.play(audio)  # forward to the far end
                        if not interrupted and far_end.queued > 24000 * 2:  # 2 s in
                            interrupted = True
                            print("caller: (interrupting) thanks, that is enough")
                            await session.send_audio(caller_says("thanks that is enough"))
                    case events.SpeechStarted():
                        print("server VAD: the caller is speaking")
                    case events.AudioInterrupted(played_ms=played, truncated_ms=cut):
                        print(f"assistant cut off after {played} ms heard; truncated at {cut} ms")
                        far_end.queued = sink.played_samples  # the far end drops what it holds
                    case events.Transcript(role="assistant", text=text):
                        print(f"assistant said: {text!r}")
                        if text.startswith("Sure"):
                            break


if __name__ == "__main__":
    asyncio.run(main())
