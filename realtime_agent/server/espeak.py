"""espeak-ng through its C library, with ctypes: real speech with word positions.

The library and its voice data come from the ``espeakng-loader`` wheel (the ``voice``
extra: no system package, nothing downloaded); without it, a system ``libespeak-ng``
(Debian: ``apt-get install libespeak-ng1``) is used when one is found.

Why ctypes rather than a binding: the five functions needed (``espeak_Initialize``,
``espeak_SetSynthCallback``, ``espeak_SetVoiceByName``, ``espeak_SetParameter``,
``espeak_Synth``) are a stable C API; the maintained Python bindings either drive the
``espeak-ng`` program (no word positions, a process per reply) or wrap the library for
phonemes only. The callback gives the audio and, for each word, its character position
in the text and its time in the audio, so transcript deltas can follow the audio.

espeak-ng keeps its state in globals (one voice, one callback per process): every call
goes through one lock, and :func:`synthesize` sets the voice and rate each time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EspeakError", "EspeakSpeech", "Word", "available", "synthesize"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1  # espeak_SetParameter: words per minute
_PITCH = 3  # 0-100, default 50
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1


class EspeakError(RuntimeError):
    """espeak-ng is missing or failed."""


class _Event(ctypes.Structure):
    # espeak_EVENT (speak_lib.h); the union ``id`` is 8 bytes (a pointer or char[8]).
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True, slots=True)
class Word:
    """Where a word of the text begins, in characters, and in samples of the audio."""

    char: int
    """Offset of its first character in the text (0-based)."""
    length: int
    sample: int


@dataclass(frozen=True, slots=True)
class EspeakSpeech:
    """The audio espeak-ng made for a text, at its native rate, and its words."""

    samples: np.ndarray
    """int16 mono at ``rate``."""
    rate: int
    words: tuple[Word, ...]


class _Library:
    """The loaded library, initialised once; use under :data:`_lock`."""

    def __init__(self) -> None:
        path, data = _locate()
        try:
            lib = ctypes.CDLL(path)
        except OSError as error:
            raise EspeakError(f"cannot load espeak-ng from {path}: {error}") from None
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_Callback,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        lib.espeak_Synth.restype = ctypes.c_int
        data_path = data.encode() if data else None
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise EspeakError(f"espeak-ng failed to initialise (data: {data})")
        self.lib = lib
        self.rate = rate
        self.chunks: list[np.ndarray] = []
        self.words: list[Word] = []
        self.samples = 0
        self.voice: bytes | None = None
        self._callback = _Callback(self._receive)  # kept alive: the library holds it
        lib.espeak_SetSynthCallback(self._callback)

    def _receive(self, wav: Any, count: int, events: Any) -> int:
        # Called by espeak_Synth, in its thread, with a short* and an espeak_EVENT array.
        if count > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                sample = event.audio_position * self.rate // 1000
                self.words.append(Word(event.text_position - 1, event.length, sample))
            index += 1
        self.samples += max(count, 0)
        return 0  # go on


def _locate() -> tuple[str, str | None]:
    """(the library's path, its data folder) from the wheel, else the system's."""
    try:
        import espeakng_loader
    except ImportError:
        found = ctypes.util.find_library("espeak-ng")
        if found is None:
            raise EspeakError(
                "espeak-ng is not available: pip install 'realtime-agent[voice]'"
            ) from None
        return found, None
    return str(espeakng_loader.get_library_path()), str(espeakng_loader.get_data_path())


_lock = threading.Lock()
_library: _Library | None = None
_failure: EspeakError | None = None


def _loaded() -> _Library:
    global _library, _failure
    if _library is None:
        if _failure is not None:
            raise _failure
        try:
            _library = _Library()
        except EspeakError as error:
            _failure = error
            raise
    return _library


def available() -> bool:
    """True when espeak-ng's library can be loaded (the ``voice`` extra, or a system one)."""
    with _lock:
        try:
            _loaded()
        except EspeakError:
            return False
        return True


def synthesize(text: str, *, voice: str, words_per_minute: int, pitch: int = 50) -> EspeakSpeech:
    """Speak ``text`` in ``voice`` (an espeak-ng voice name, e.g. ``en-us+f2``).

    Raises EspeakError when espeak-ng is missing, the voice is unknown or synthesis fails.
    """
    with _lock:
        library = _loaded()
        name = voice.encode()
        if library.voice != name:
            if library.lib.espeak_SetVoiceByName(name) != 0:
                raise EspeakError(f"espeak-ng has no voice {voice!r}")
            library.voice = name
        library.lib.espeak_SetParameter(_RATE, words_per_minute, 0)
        library.lib.espeak_SetParameter(_PITCH, pitch, 0)
        library.chunks, library.words, library.samples = [], [], 0
        encoded = text.encode()
        status = library.lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != 0:
            raise EspeakError(f"espeak-ng failed to speak (status {status})")
        samples = np.concatenate(library.chunks) if library.chunks else np.zeros(0, dtype=np.int16)
        return EspeakSpeech(samples.astype(np.int16), library.rate, tuple(library.words))
