"""Speech recognition for the local server, offline: pocketsphinx (the ``voice`` extra).

:class:`PocketsphinxRecognizer` recognizes a committed user turn with pocketsphinx's
English acoustic model and pronunciation dictionary, which ship inside its wheel. It is
a small model: its general English language model gets little right (on espeak-ng's
voices, most words of a command are wrong), so each session is recognized with a small
language model of its own, built in a few ms from

* a few hundred everyday sentences of talking to a voice assistant (``corpus.txt``:
  greetings, weather, timers, lights, messages, numbers, days, cities), and
* the session's own words: its tools (names, descriptions, parameters, enum values),
  its instructions, and the transcription ``prompt`` (which biases OpenAI's
  transcription models too).

Short commands in the agent's domain work best; words outside the dictionary cannot be
recognized. What it recognizes is lower-case words: :func:`tidy` gives them a capital,
the proper nouns of the corpus and the session back their capitals, and a final ``?``
or ``.``.

Recognition takes tens to a few hundred ms per turn and holds a decoder: the server runs
it in a worker thread, never on its event loop.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import re
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from realtime_agent.audio.format import AudioFormat
from realtime_agent.audio.g711 import alaw_to_pcm16, ulaw_to_pcm16
from realtime_agent.audio.resample import Resampler

__all__ = [
    "PocketsphinxRecognizer",
    "SpeechRecognizer",
    "default_recognizer",
    "session_hints",
    "tidy",
    "word_error_rate",
]

RATE = 16000  # pocketsphinx's English model
PCM16_16K = AudioFormat("pcm16", RATE, 2)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_QUESTION_WORDS = frozenset(
    "what what's whats who where when why how which is are can could do does will would "
    "should shall am did may".split()
)


class SpeechRecognizer(Protocol):
    """Anything that turns a user's committed audio into words for the local server."""

    def recognize(self, audio: bytes, audio_format: AudioFormat, hints: str = "") -> str | None:
        """The words said in ``audio``, or None when nothing could be recognized.

        ``hints`` is text whose words the speech is likely to use (the session's tools,
        instructions and transcription prompt). Called in a worker thread."""
        ...


def session_hints(*texts: str | None, tools: Iterable[Any] = ()) -> str:
    """The words a session is likely to hear: ``texts`` and, of each function tool, its
    name (split at ``_`` and capitals), description, parameters and their enum values."""
    parts = [text for text in texts if text]
    for tool in tools:
        name = getattr(tool, "name", None) or ""
        parts.append(re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", name))
        parts.append(getattr(tool, "description", None) or "")
        parts.extend(_schema_words(getattr(tool, "parameters", None)))
    return "\n".join(part for part in parts if part)


def _schema_words(schema: object) -> list[str]:
    if not isinstance(schema, dict):
        return []
    words: list[str] = []
    for name, spec in (schema.get("properties") or {}).items():
        words.append(str(name).replace("_", " "))
        if isinstance(spec, dict):
            words.append(str(spec.get("description") or ""))
            words.extend(str(value) for value in spec.get("enum") or [])
            words.extend(str(value) for value in spec.get("examples") or [])
            words.extend(_schema_words(spec))
    return words


def tidy(words: str, hints: str = "") -> str:
    """Recognized lower-case words as a transcript: a capital first letter, the proper
    nouns of the corpus and of ``hints`` capitalised, ``?`` after a question, else ``.``."""
    found = words.split()
    if not found:
        return ""
    proper = _proper_nouns() | _capitalised(hints)
    out = [word.capitalize() if word in proper or word == "i" else word for word in found]
    out[0] = out[0][0].upper() + out[0][1:]
    return " ".join(out) + ("?" if found[0] in _QUESTION_WORDS else ".")


def _capitalised(text: str) -> set[str]:
    """The words of ``text`` written with a capital inside a sentence (names, places), or
    alone on a line (an enum value of a tool's schema)."""
    found: set[str] = set()
    for line in text.splitlines():
        words = [word.strip(",;\"'()") for word in line.split()]
        if len(words) == 1 and re.fullmatch(r"[A-Z][a-z]+", words[0]):
            found.add(words[0].lower())
        for sentence in re.split(r"[.!?:]+", line):
            for word in sentence.split()[1:]:
                word = word.strip(",;\"'()")
                if re.fullmatch(r"[A-Z][a-z]+", word):
                    found.add(word.lower())
    return found


@cache
def _corpus() -> tuple[str, ...]:
    text = importlib.resources.files("realtime_agent.server").joinpath("corpus.txt").read_text()
    slots: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("@"):
            name, _, values = line[1:].partition(" ")
            slots[name] = [value.strip() for value in values.split(",") if value.strip()]
        elif line and not line.startswith("#"):
            slot = re.search(r"\{(\w+)\}", line)
            if slot is None:
                lines.append(line)
            else:
                lines += [line.replace(slot.group(), value) for value in slots[slot.group(1)]]
    return tuple(lines)


@cache
def _proper_nouns() -> frozenset[str]:
    return frozenset(w.lower() for line in _corpus() for w in re.findall(r"\b[A-Z][a-z]+", line))


def _to_pcm16(audio: bytes, audio_format: AudioFormat) -> bytes:
    if audio_format.encoding == "ulaw":
        return ulaw_to_pcm16(audio)
    if audio_format.encoding == "alaw":
        return alaw_to_pcm16(audio)
    return audio


class PocketsphinxRecognizer:
    """Offline recognition with pocketsphinx (see the module docstring).

    pocketsphinx holds the GIL while it decodes (about 150 ms a turn), which would stall
    the server's event loop, pacing every other session's audio: so it decodes in worker
    processes (``processes`` of them, shared by every recognizer of the Python process,
    started by :meth:`warm` or the first recognition, fed over a pipe), and
    :meth:`recognize` only waits for them. ``processes=0`` decodes in the calling thread
    instead (a script, a bench). The local server warms it at a session's first audio.

    Raises RuntimeError when pocketsphinx is not installed (the ``voice`` extra).
    """

    def __init__(self, *, processes: int = 1) -> None:
        try:
            import pocketsphinx  # noqa: F401  (fail here, not in a worker)
        except ImportError:
            raise RuntimeError(
                "pocketsphinx is not installed: pip install 'realtime-agent[voice]'"
            ) from None
        if processes < 0:
            raise ValueError(f"processes must be 0 or more, not {processes}")
        self.processes = processes

    def warm(self) -> None:
        """Start the worker processes and load the model now, in the background (a couple
        of seconds), so that the first turn is recognized as fast as the others."""
        workers = _workers(self.processes) if self.processes else None
        if workers is not None and not workers.warmed:
            workers.warmed = True
            for _ in range(self.processes):
                threading.Thread(
                    target=self.recognize, args=(bytes(3200), PCM16_16K), daemon=True
                ).start()

    def recognize(self, audio: bytes, audio_format: AudioFormat, hints: str = "") -> str | None:
        """The words of ``audio`` as a tidy transcript, or None if none were recognized.

        Blocks until they are known: call it from a worker thread. Raises RuntimeError
        if the worker process failed (it is started again for the next turn)."""
        if self.processes == 0:
            return _engine().recognize(audio, audio_format, hints)
        return _workers(self.processes).recognize(audio, audio_format, hints)


class _Worker:
    """One worker process and the pipe to it: a JSON line and the audio bytes out, a JSON
    line back. It ends when its input closes (this process ended or let it go)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def recognize(self, audio: bytes, audio_format: AudioFormat, hints: str) -> str | None:
        request = {
            "encoding": audio_format.encoding,
            "rate": audio_format.rate,
            "width": audio_format.sample_width,
            "hints": hints,
            "bytes": len(audio),
        }
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n" + audio)
            process.stdin.flush()
            line = process.stdout.readline()
            text: str | None = json.loads(line)["text"]
        except (OSError, ValueError, KeyError) as error:
            self._process = None
            process.kill()
            raise RuntimeError(f"the speech recognition process failed: {error}") from None
        return text

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from realtime_agent.server.stt import _serve; _serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # its failures show as a failed request here
            )
        return self._process


class _Workers:
    def __init__(self, count: int) -> None:
        self._workers = [_Worker() for _ in range(count)]
        self.warmed = False

    def recognize(self, audio: bytes, audio_format: AudioFormat, hints: str) -> str | None:
        for worker in self._workers:  # the first one free, else wait for the first
            if worker.lock.acquire(blocking=False):
                break
        else:
            worker = self._workers[0]
            worker.lock.acquire()
        try:
            return worker.recognize(audio, audio_format, hints)
        finally:
            worker.lock.release()


_pools: dict[int, _Workers] = {}
_pools_lock = threading.Lock()


def _workers(count: int) -> _Workers:
    with _pools_lock:
        if count not in _pools:
            _pools[count] = _Workers(count)
        return _pools[count]


def _serve() -> None:
    """The worker process: recognize each request of standard input until it closes."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    engine = _engine()
    try:
        for line in requests:
            request = json.loads(line)
            audio = requests.read(request["bytes"])
            fmt = AudioFormat(request["encoding"], request["rate"], request["width"])
            try:
                text = engine.recognize(audio, fmt, request["hints"])
            except Exception:  # a turn that cannot be recognized is just that
                text = None
            replies.write(json.dumps({"text": text}).encode() + b"\n")
            replies.flush()
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the server's process ended: so does this one


@cache
def _engine() -> _Engine:
    return _Engine()


class _Engine:
    """The decoders of one process: one per vocabulary, each under its own lock; the
    most recently used ``cache_size`` are kept."""

    def __init__(self, *, cache_size: int = 8) -> None:
        import pocketsphinx

        pocketsphinx.set_loglevel("FATAL")
        self._pocketsphinx = pocketsphinx
        self._model = Path(pocketsphinx.get_model_path()) / "en-us"
        self._cache_size = cache_size
        self._decoders: OrderedDict[frozenset[str], tuple[threading.Lock, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._dictionary: dict[str, list[str]] | None = None

    def recognize(self, audio: bytes, audio_format: AudioFormat, hints: str) -> str | None:
        pcm = _to_pcm16(audio, audio_format)
        resampler = Resampler(audio_format.rate, RATE)
        samples = b"".join([*resampler.push(pcm), *resampler.flush()])
        # A little silence on both sides: the decoder finds the speech's edges better.
        padded = bytes(RATE // 5 * 2) + samples + bytes(RATE // 5 * 2)
        lock, decoder = self._decoder(hints)
        with lock:
            decoder.start_utt()
            decoder.process_raw(padded, full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
        words = hypothesis.hypstr.strip() if hypothesis is not None else ""
        words = " ".join(w for w in words.split() if not w.startswith(("<", "[", "++")))
        return tidy(words, hints) if words else None

    # --- a decoder per vocabulary ----------------------------------------------------------------

    def _decoder(self, hints: str) -> tuple[threading.Lock, Any]:
        sentences = [*_corpus(), *(line for line in hints.lower().splitlines() if line.strip())]
        vocabulary = frozenset(word for line in sentences for word in _WORD.findall(line.lower()))
        with self._lock:
            found = self._decoders.get(vocabulary)
            if found is not None:
                self._decoders.move_to_end(vocabulary)
                return found
            dictionary = self._pronunciations()
            known = vocabulary & dictionary.keys()
            decoder = self._build(sentences, known, dictionary)
            entry = (threading.Lock(), decoder)
            self._decoders[vocabulary] = entry
            while len(self._decoders) > self._cache_size:
                self._decoders.popitem(last=False)
            return entry

    def _pronunciations(self) -> dict[str, list[str]]:
        """The wheel's pronunciation dictionary: word -> its lines (variants included)."""
        if self._dictionary is None:
            entries: dict[str, list[str]] = {}
            with open(self._model / "cmudict-en-us.dict", encoding="utf-8") as lines:
                for line in lines:
                    word = line.split(" ", 1)[0].split("(", 1)[0]
                    entries.setdefault(word, []).append(line)
            self._dictionary = entries
        return self._dictionary

    def _build(
        self, sentences: list[str], known: frozenset[str], dictionary: dict[str, list[str]]
    ) -> Any:
        from pocketsphinx.lm import ArpaBoLM

        corpus = "\n".join(
            " ".join(word for word in _WORD.findall(line.lower()) if word in known)
            for line in sentences
        )
        model = ArpaBoLM(text=corpus, add_start=True, case="lower")
        model.compute()
        with tempfile.TemporaryDirectory(prefix="realtime-agent-lm-") as folder:
            lm, words = Path(folder) / "session.arpa", Path(folder) / "session.dict"
            model.write_file(str(lm))
            words.write_text("".join(line for word in sorted(known) for line in dictionary[word]))
            return self._pocketsphinx.Decoder(
                hmm=str(self._model / "en-us"),
                lm=str(lm),
                dict=str(words),
                samprate=RATE,
                loglevel="FATAL",
            )


def default_recognizer() -> SpeechRecognizer | None:
    """A :class:`PocketsphinxRecognizer` when the ``voice`` extra is installed, else None
    (the server then gives user audio a placeholder transcript)."""
    global _noted
    try:
        return PocketsphinxRecognizer()
    except RuntimeError:
        if not _noted:
            _noted = True
            logging.getLogger("realtime_agent.server").info(
                "no speech recognition: user audio gets a placeholder transcript; "
                "pip install 'realtime-agent[voice]' to recognize it"
            )
        return None


_noted = False


def word_error_rate(reference: str, hypothesis: str | None) -> tuple[int, int]:
    """(word errors, reference words) of a transcript: substitutions, insertions and
    deletions by edit distance over lower-case words, punctuation ignored."""
    said = _WORD.findall(reference.lower())
    heard = _WORD.findall((hypothesis or "").lower())
    row = list(range(len(heard) + 1))
    for i, word in enumerate(said, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1], len(said)
