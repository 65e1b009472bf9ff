"""The real Microphone and Speaker classes, through PortAudio.

CI plays into a PulseAudio null sink and records from its monitor (REALTIME_AGENT_AUDIO_DEVICES=1
there makes a missing device a failure, not a skip). On a machine without PortAudio or
without devices, these tests are skipped; the clear errors are tested everywhere.
"""

from __future__ import annotations

import asyncio
import os
import sys

import numpy as np
import pytest

from realtime_agent.audio import devices
from realtime_agent.errors import AudioError

REQUIRED = os.environ.get("REALTIME_AGENT_AUDIO_DEVICES") == "1"


def have_devices() -> bool:
    try:
        found = devices.list_devices()
    except AudioError:
        return False
    return any(d.inputs for d in found) and any(d.outputs for d in found)


needs_devices = pytest.mark.skipif(
    not REQUIRED and not have_devices(), reason="no PortAudio devices on this machine"
)


def tone(seconds: float, rate: int = 24000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


@needs_devices
async def test_speaker_plays_and_the_microphone_hears_it() -> None:
    speaker = await asyncio.to_thread(devices.Speaker)  # it opens the device: not on the loop
    microphone = devices.Microphone()
    frames: list[bytes] = []

    async def listen() -> None:
        async for frame in microphone:
            frames.append(frame)
            if len(frames) >= 100:  # 2 s
                return

    try:
        listening = asyncio.ensure_future(listen())
        speaker.write(tone(1.5))
        await asyncio.wait_for(listening, 30)  # PulseAudio is slow to start: generous
    finally:
        speaker.close()
    assert {len(f) for f in frames} == {960}  # steady 20 ms frames of 24 kHz mono pcm16
    levels = [
        float(np.sqrt(np.mean(np.frombuffer(f, "<i2").astype(np.float64) ** 2))) for f in frames
    ]
    assert max(levels) > 1000  # the tone came through the null sink's monitor
    assert 0 < speaker.played_samples <= speaker.written_samples == len(tone(1.5)) // 2


def loud(frame: bytes) -> bool:
    return float(np.sqrt(np.mean(np.frombuffer(frame, "<i2").astype(np.float64) ** 2))) > 1000


@needs_devices
async def test_speaker_clear_silences_the_device_and_freezes_what_was_heard() -> None:
    speaker = await asyncio.to_thread(devices.Speaker)
    microphone = devices.Microphone()
    after: list[bool] = []

    async def listen() -> None:
        cleared = False
        async for frame in microphone:
            if not cleared and loud(frame):  # the tone is playing: barge in
                speaker.clear()
                cleared = True
                heard = speaker.played_samples
                assert 0 < heard < len(tone(3.0)) // 2
            elif cleared:
                after.append(loud(frame))
                if len(after) == 40:  # 800 ms later
                    return

    try:
        speaker.write(tone(3.0))
        await asyncio.wait_for(listen(), 30)
    finally:
        speaker.close()
    # Silence came within the device's latency (a few frames), and stayed.
    assert not any(after[10:]), after
    assert speaker.written_samples < len(tone(3.0)) // 2


def test_unknown_devices_are_clear_errors() -> None:
    if not have_devices():
        pytest.skip("no devices to look through")
    with pytest.raises(AudioError, match="no output device 'no-such-device'"):
        devices.Speaker("no-such-device")


async def test_missing_pyaudio_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # as if it were not installed
    with pytest.raises(AudioError, match=r"pip install 'realtime-agent\[mic\]'") as caught:
        devices.list_devices()
    assert "\n" not in str(caught.value)
    with pytest.raises(AudioError):
        async for _ in devices.Microphone():
            pass
