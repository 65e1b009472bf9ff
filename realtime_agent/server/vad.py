"""Server VAD for the local Realtime server: where the user's speech starts and stops.

Input audio is brought to 8 kHz pcm16 (pcm16 24 kHz through a streaming soxr
decimator, whose output is aligned to its input, so sample n of the output is at
n / 8000 s; G.711 is decoded as it is) and cut into 20 ms frames. Each frame is speech
or not by one of two detectors:

* ``"webrtc"`` (the default): the WebRTC VAD (``webrtcvad-wheels``), gated by the
  frame's level so that faint noise never counts. Robust on speech; it also takes
  tones and loud noise for speech, as every frame-level VAD does.
* ``"energy"``: the level gate alone. Deterministic and trivially cheap, for tests of
  turn-taking logic and for load benchmarks; not a speech detector.

``threshold`` (0-1, as in ``server_vad``) sets how loud speech must be: the gate is
``-70 + 60 * threshold`` dBFS (-40 dBFS at the default 0.5), and for WebRTC also its
aggressiveness (``int(4 * threshold)``, at most 3).

Turn logic, in input-audio time (ms since the session's first appended sample):
speech starts after ``min_speech_ms`` of consecutive speech frames; the event says
``audio_start_ms = onset - prefix_padding_ms`` (not below 0), where onset is the
first of those frames. Speech stops after ``silence_duration_ms`` without a speech
frame; the event says ``audio_end_ms = last speech + silence_duration_ms``, the point
where the silence was decided, as the real server does.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import soxr
import webrtcvad

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.audio.g711 import alaw_to_pcm16, ulaw_to_pcm16

__all__ = ["Detector", "SpeechStarted", "SpeechStopped", "VadEvent", "VoiceActivityDetector"]

Detector = Literal["webrtc", "energy"]

_RATE = 8000
_FRAME_MS = 20
_FRAME_SAMPLES = _RATE * _FRAME_MS // 1000
_FLOOR_FRAMES = 1500 // _FRAME_MS  # the noise floor is the quietest frame of the last 1.5 s


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began; ``audio_start_ms`` includes the prefix padding."""

    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Speech ended; ``audio_end_ms`` includes the silence that decided it."""

    audio_end_ms: int


VadEvent = SpeechStarted | SpeechStopped


class VoiceActivityDetector:
    """Streaming turn detection over appended input audio. Not thread-safe."""

    def __init__(
        self,
        *,
        input_format: AudioFormat = PCM16_24K,
        detector: Detector = "webrtc",
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 200,
        min_speech_ms: int = 60,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0.0-1.0, not {threshold}")
        self.input_format = input_format
        self.detector: Detector = detector
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.min_speech_frames = max(1, math.ceil(min_speech_ms / _FRAME_MS))
        self.gate_dbfs = -70.0 + 60.0 * threshold
        self._webrtc = webrtcvad.Vad(min(3, int(4 * threshold))) if detector == "webrtc" else None
        self._decimator = (
            soxr.ResampleStream(input_format.rate, _RATE, 1, dtype="int16", quality="LQ")
            if input_format.encoding == "pcm16" and input_format.rate != _RATE
            else None
        )
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames = 0  # 20 ms frames judged so far
        self._run = 0  # consecutive speech frames
        self._speaking = False
        self._last_speech_end = 0  # ms
        self._levels: deque[float] = deque(maxlen=_FLOOR_FRAMES)
        self.margin_db = 6.0 + 6.0 * threshold
        self.speech_frames = 0  # counted for diagnostics

    @property
    def speaking(self) -> bool:
        """True between a SpeechStarted and its SpeechStopped."""
        return self._speaking

    @property
    def position_ms(self) -> int:
        """Input audio judged so far, in ms (audio still in the decimator not counted)."""
        return self._frames * _FRAME_MS

    def reset(self) -> None:
        """Forget any speech in progress (after the input buffer is cleared or committed)."""
        self._run = 0
        self._speaking = False

    def feed(self, audio: bytes) -> list[VadEvent]:
        """Judge more input audio (in the input format); return the turn events it decides."""
        samples = self._to_8k(audio)
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % _FRAME_SAMPLES
        self._pending = samples[whole:]
        events: list[VadEvent] = []
        for start in range(0, whole, _FRAME_SAMPLES):
            event = self._judge(samples[start : start + _FRAME_SAMPLES])
            if event is not None:
                events.append(event)
        return events

    def _to_8k(self, audio: bytes) -> np.ndarray:
        match self.input_format.encoding:
            case "ulaw":
                audio = ulaw_to_pcm16(audio)
            case "alaw":
                audio = alaw_to_pcm16(audio)
        pcm = np.frombuffer(audio, dtype="<i2", count=len(audio) // 2)
        if self._decimator is None:
            return pcm.astype(np.int16, copy=False)
        return np.asarray(self._decimator.resample_chunk(pcm), dtype=np.int16)

    def _is_speech(self, frame: np.ndarray) -> bool:
        power = float(np.mean(frame.astype(np.float64) ** 2))
        level = 10 * math.log10(power / 32768.0**2) if power > 0 else -120.0
        if self._webrtc is None:
            return level >= self.gate_dbfs
        self._levels.append(level)
        floor = min(self._levels)  # the quietest frame of the last 1.5 s: the noise
        if level < max(self.gate_dbfs, floor + self.margin_db):
            return False
        return bool(self._webrtc.is_speech(frame.tobytes(), _RATE))

    def _judge(self, frame: np.ndarray) -> VadEvent | None:
        index = self._frames
        self._frames += 1
        if self._is_speech(frame):
            self.speech_frames += 1
            self._run += 1
            self._last_speech_end = (index + 1) * _FRAME_MS
            if not self._speaking and self._run >= self.min_speech_frames:
                self._speaking = True
                onset = (index + 1 - self._run) * _FRAME_MS
                return SpeechStarted(max(0, onset - self.prefix_padding_ms))
            return None
        self._run = 0
        if self._speaking and self.position_ms - self._last_speech_end >= self.silence_duration_ms:
            self._speaking = False
            return SpeechStopped(self._last_speech_end + self.silence_duration_ms)
        return None
