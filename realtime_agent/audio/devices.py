"""The microphone and the speaker, through PortAudio (the ``mic`` extra: pyaudio).

* :class:`Microphone`: capture at the device's own rate and channel count, in PortAudio's
  callback thread; each block crosses to the event loop with ``call_soon_threadsafe``
  into a bounded queue that drops the oldest block when full (and counts it: a slow
  consumer loses old audio, never the newest); then downmixed and resampled to 24 kHz
  mono pcm16 frames.
* :class:`Speaker`: playback in PortAudio's callback thread from a queue the runtime
  writes to; the position heard is the frames the device has consumed minus its output
  latency; ``clear()`` empties the queue, so a barge-in is silent within one block.

Devices are chosen by index or by (part of) their name. PortAudio prints ALSA and JACK
noise on stderr when it starts; it is silenced while it initialises, so that errors
stay one line. Every failure is an :class:`~realtime_agent.errors.AudioError` saying
what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from realtime_agent.audio.resample import Resampler
from realtime_agent.errors import AudioError

__all__ = ["DeviceInfo", "Microphone", "Speaker", "list_devices"]

_INSTALL = (
    "pyaudio is not installed: pip install 'realtime-agent[mic]' "
    "(it builds against PortAudio: apt-get install portaudio19-dev)"
)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr (PortAudio's ALSA/JACK chatter) for a moment."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError:
        raise AudioError(_INSTALL) from None
    return pyaudio


def _open() -> tuple[Any, Any]:
    pyaudio = _pyaudio()
    try:
        with _quiet_stderr():
            audio = pyaudio.PyAudio()
    except OSError as exc:
        raise AudioError(f"PortAudio could not start: {exc}") from None
    return pyaudio, audio


@dataclass(frozen=True)
class DeviceInfo:
    """One audio device as PortAudio reports it."""

    index: int
    name: str
    inputs: int
    outputs: int
    rate: int

    def __str__(self) -> str:
        kinds = " ".join(k for k, n in (("in", self.inputs), ("out", self.outputs)) if n)
        return f"{self.index:3d}  {self.name}  ({kinds}, {self.rate} Hz)"


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees. Raises AudioError without pyaudio or PortAudio."""
    _, audio = _open()
    try:
        return [_info(audio.get_device_info_by_index(i)) for i in range(audio.get_device_count())]
    finally:
        audio.terminate()


def _info(raw: dict[str, Any]) -> DeviceInfo:
    return DeviceInfo(
        int(raw["index"]),
        str(raw["name"]),
        int(raw["maxInputChannels"]),
        int(raw["maxOutputChannels"]),
        int(raw["defaultSampleRate"]),
    )


def _choose(audio: Any, device: int | str | None, *, output: bool) -> DeviceInfo:
    kind = "output" if output else "input"
    try:
        if device is None:
            raw = (
                audio.get_default_output_device_info()
                if output
                else audio.get_default_input_device_info()
            )
            return _info(raw)
        infos = [_info(audio.get_device_info_by_index(i)) for i in range(audio.get_device_count())]
    except OSError as exc:
        raise AudioError(
            f"no default {kind} device ({exc}); see `realtime-agent devices`"
        ) from None
    usable = [d for d in infos if (d.outputs if output else d.inputs) > 0]
    if isinstance(device, int):
        found = next((d for d in usable if d.index == device), None)
    else:
        found = next((d for d in usable if device.lower() in d.name.lower()), None)
    if found is None:
        raise AudioError(f"no {kind} device {device!r}; see `realtime-agent devices`")
    return found


class Microphone:
    """Audio in from a PortAudio device, as 24 kHz mono pcm16 frames (see the module docstring).

    Args:
        device: index or part of the name; None for the default input.
        frame_ms: the frames handed out.
        queue_blocks: blocks kept when the consumer falls behind (the oldest go first).
    """

    def __init__(
        self, device: int | str | None = None, *, frame_ms: int = 20, queue_blocks: int = 50
    ) -> None:
        self.device = device
        self.frame_ms = frame_ms
        self.queue_blocks = queue_blocks
        self.dropped = 0
        """Blocks dropped because the consumer fell behind."""
        self.info: DeviceInfo | None = None

    def resolve(self) -> DeviceInfo:
        """The device this microphone would open. Raises AudioError (no pyaudio, no device)."""
        _, audio = _open()
        try:
            self.info = _choose(audio, self.device, output=False)
            return self.info
        finally:
            audio.terminate()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pyaudio, audio = _open()
        loop = asyncio.get_running_loop()
        blocks: deque[bytes] = deque()
        ready = asyncio.Event()
        try:
            info = self.info = _choose(audio, self.device, output=False)
            channels = min(2, info.inputs)
            per_block = info.rate * self.frame_ms // 1000

            def arrive(block: bytes) -> None:  # on the loop
                if len(blocks) >= self.queue_blocks:
                    blocks.popleft()
                    self.dropped += 1
                blocks.append(block)
                ready.set()

            def callback(
                data: bytes | None, frames: int, timing: Any, status: int
            ) -> tuple[None, int]:
                if data:  # PortAudio's thread: hand over, nothing else
                    loop.call_soon_threadsafe(arrive, data)
                return None, pyaudio.paContinue

            with _quiet_stderr():
                stream = audio.open(
                    format=pyaudio.paInt16,
                    channels=channels,
                    rate=info.rate,
                    input=True,
                    input_device_index=info.index,
                    frames_per_buffer=per_block,
                    stream_callback=callback,
                )
        except OSError as exc:
            audio.terminate()
            raise AudioError(f"cannot open the microphone: {exc}") from None
        except BaseException:
            audio.terminate()
            raise
        resampler = Resampler(info.rate, channels=channels, frame_ms=self.frame_ms)
        try:
            stream.start_stream()
            while True:
                while not blocks:
                    ready.clear()
                    await ready.wait()
                for frame in resampler.push(blocks.popleft()):
                    yield frame
        finally:
            with contextlib.suppress(OSError):
                stream.stop_stream()
                stream.close()
            audio.terminate()


class Speaker:
    """Audio out to a PortAudio device, with the position heard (see the module docstring).

    Plays pcm16 mono at ``rate`` (24 kHz); the device opens at that rate, which PortAudio
    converts as needed through ALSA or PulseAudio.
    """

    def __init__(
        self, device: int | str | None = None, *, rate: int = 24000, block_ms: int = 20
    ) -> None:
        pyaudio, audio = _open()
        self._pyaudio = pyaudio
        self._audio = audio
        self._rate = rate
        self._block = rate * block_ms // 1000
        self._lock = threading.Lock()
        self._queue = bytearray()
        self._consumed = 0  # samples the device has taken
        self._written = 0
        try:
            self.info = _choose(audio, device, output=True)
            with _quiet_stderr():
                self._stream = audio.open(
                    format=pyaudio.paInt16,
                    channels=1,
                    rate=rate,
                    output=True,
                    output_device_index=self.info.index,
                    frames_per_buffer=self._block,
                    stream_callback=self._callback,
                )
            self._latency = int(self._stream.get_output_latency() * rate)
            self._stream.start_stream()
        except OSError as exc:
            audio.terminate()
            raise AudioError(f"cannot open the speaker: {exc}") from None
        except BaseException:
            audio.terminate()
            raise

    def _callback(self, data: Any, frames: int, timing: Any, status: int) -> tuple[bytes, int]:
        wanted = frames * 2
        with self._lock:
            chunk = bytes(self._queue[:wanted])
            del self._queue[:wanted]
            self._consumed += len(chunk) // 2
        return chunk + bytes(wanted - len(chunk)), self._pyaudio.paContinue

    @property
    def rate(self) -> int:
        """Samples per second."""
        return self._rate

    @property
    def sample_width(self) -> int:
        """Bytes per sample."""
        return 2

    @property
    def played_samples(self) -> int:
        """Samples heard: consumed by the device, less what is still in its output latency."""
        with self._lock:
            return max(0, self._consumed - self._latency)

    @property
    def written_samples(self) -> int:
        """Samples heard plus samples queued."""
        with self._lock:
            return self._written

    def write(self, audio: bytes) -> None:
        """Queue audio for the device."""
        with self._lock:
            self._queue += audio
            self._written += len(audio) // 2

    def clear(self) -> int:
        """Silence now: drop what the device has not taken yet."""
        with self._lock:
            dropped = len(self._queue) // 2
            self._queue.clear()
            self._written = self._consumed  # what the device holds still plays out
            return dropped

    def close(self) -> None:
        """Stop and release the device."""
        with contextlib.suppress(OSError):
            self._stream.stop_stream()
            self._stream.close()
        self._audio.terminate()
