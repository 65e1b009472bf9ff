"""The microphone and the speaker, through PortAudio (the ``mic`` extra: pyaudio).

* :class:`Microphone`: capture at the device's own rate and channel count, in PortAudio's
  callback thread; each block crosses to the event loop with ``call_soon_threadsafe``
  into a bounded queue that drops the oldest block when full (and counts it: a slow
  consumer loses old audio, never the newest); then downmixed and resampled to 24 kHz
  mono pcm16 frames.
* :class:`Speaker`: playback in PortAudio's callback thread from a queue the runtime
  writes to. Each block the device takes is stamped with when it leaves the DAC (from
  PortAudio's timing of that block, else the stream's stated latency); the position heard
  is the audio whose time has come, so it reaches everything written once the device has
  played it out. ``clear()`` empties the queue, so a barge-in is silent within one block
  plus what the device already holds.

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
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from realtime_agent.audio.resample import Resampler
from realtime_agent.errors import AudioError

__all__ = ["DeviceInfo", "Microphone", "Speaker", "list_devices"]

_MAX_LATENCY = 10.0
"""Seconds: a figure from PortAudio's block timing above this is not believed."""

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
        loop = asyncio.get_running_loop()
        blocks: deque[bytes] = deque()
        ready = asyncio.Event()

        def arrive(block: bytes) -> None:  # on the loop
            if len(blocks) >= self.queue_blocks:
                blocks.popleft()
                self.dropped += 1
            blocks.append(block)
            ready.set()

        # PortAudio takes a while to open a stream (PulseAudio: 100-200 ms): not on the loop.
        opening = asyncio.ensure_future(asyncio.to_thread(self._open, loop, arrive))
        try:
            _, audio, stream, info, channels = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)  # cancelled while it opened: close it
            raise
        resampler = Resampler(info.rate, channels=channels, frame_ms=self.frame_ms)
        try:
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

    def _open(
        self, loop: asyncio.AbstractEventLoop, arrive: Callable[[bytes], None]
    ) -> tuple[Any, Any, Any, DeviceInfo, int]:
        """Open and start the input stream (in a worker thread); its blocks go to ``arrive``
        on the loop."""
        pyaudio, audio = _open()
        try:
            info = self.info = _choose(audio, self.device, output=False)
            channels = min(2, info.inputs)
            per_block = info.rate * self.frame_ms // 1000

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
            stream.start_stream()
        except OSError as exc:
            audio.terminate()
            raise AudioError(f"cannot open the microphone: {exc}") from None
        except BaseException:
            audio.terminate()
            raise
        return pyaudio, audio, stream, info, channels


def _close_opened(opening: asyncio.Future[tuple[Any, Any, Any, DeviceInfo, int]]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    _, audio, stream, _, _ = opening.result()
    with contextlib.suppress(OSError):
        stream.stop_stream()
        stream.close()
    audio.terminate()


class Speaker:
    """Audio out to a PortAudio device, with the position heard (see the module docstring).

    Plays pcm16 mono at ``rate`` (24 kHz); the device opens at that rate, which PortAudio
    converts as needed through ALSA or PulseAudio. ``played_samples`` counts the samples
    that have left the DAC by now (``time.monotonic()``), on the sink's one timeline: when
    the queue runs dry, the silence the device plays meanwhile is not counted, and the next
    write plays from where the queue ended.

    The callback runs in PortAudio's thread every block and only moves bytes and stamps
    times under one lock; it keeps a record per block still on its way to the DAC (about
    latency / block of them), never more.
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
        self._taken = 0  # samples of ours the device has taken (not its silence padding)
        # Blocks taken and not yet wholly heard, oldest first: (monotonic time their first
        # sample leaves the DAC, samples of ours in them). Each follows the one before on
        # our timeline; ``_heard`` counts the samples of those already retired.
        self._pending: deque[tuple[float, int]] = deque()
        self._heard = 0
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
            self._stated_latency = float(self._stream.get_output_latency())
            self._stream.start_stream()
        except OSError as exc:
            audio.terminate()
            raise AudioError(f"cannot open the speaker: {exc}") from None
        except BaseException:
            audio.terminate()
            raise

    def _callback(self, data: Any, frames: int, timing: Any, status: int) -> tuple[bytes, int]:
        now = time.monotonic()
        leaves_dac = now + self._latency(timing)
        wanted = frames * 2
        with self._lock:
            chunk = bytes(self._queue[:wanted])
            del self._queue[:wanted]
            if chunk:  # ours first, then the padding, which is nobody's audio
                samples = len(chunk) // 2
                self._taken += samples
                self._pending.append((leaves_dac, samples))
            self._heard_by(now)  # retire what was heard: the record stays short
        if len(chunk) < wanted:
            chunk += bytes(wanted - len(chunk))
        return chunk, self._pyaudio.paContinue

    def _latency(self, timing: Any) -> float:
        """Seconds from the callback until the block it returns leaves the DAC.

        PortAudio's timing of this block (``output_buffer_dac_time - current_time``, in
        the stream's own clock) when the host API gives it; some give zeros, or nonsense:
        then the latency the stream stated when it opened.
        """
        dac = timing.get("output_buffer_dac_time", 0.0) if timing else 0.0
        current = timing.get("current_time", 0.0) if timing else 0.0
        if dac > 0.0 and current > 0.0 and 0.0 <= dac - current <= _MAX_LATENCY:
            return float(dac - current)
        return self._stated_latency

    def _heard_by(self, now: float) -> int:
        """Samples that have left the DAC by ``now`` (under the lock).

        Within a block, at the rate from when its first sample leaves; a block is retired
        once all of its samples have, and only the oldest counts in part, so the count
        never goes back even if two blocks' times overlap.
        """
        pending = self._pending
        while pending:
            leaves, samples = pending[0]
            due = int((now - leaves) * self._rate + 1e-6)  # not lose a sample to rounding
            if due < samples:
                return self._heard + max(0, due)
            pending.popleft()
            self._heard += samples
        return self._heard

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
        """Samples that have left the DAC by now: once the queue is empty, this reaches
        ``written_samples`` as soon as the device has played out what it holds."""
        now = time.monotonic()
        with self._lock:
            return self._heard_by(now)

    @property
    def written_samples(self) -> int:
        """Samples heard, plus those the device holds, plus those queued."""
        with self._lock:
            return self._taken + len(self._queue) // 2

    def write(self, audio: bytes) -> None:
        """Queue pcm16 audio for the device (a trailing odd byte is dropped, not misaligning
        all that follows)."""
        with self._lock:
            self._queue += audio[: len(audio) - len(audio) % 2]

    def clear(self) -> int:
        """Silence within one block: drop what the device has not taken yet; return how
        many samples were dropped. What the device already holds still plays out and is
        counted as heard when it leaves the DAC."""
        with self._lock:
            dropped = len(self._queue) // 2
            self._queue.clear()
            return dropped

    def close(self) -> None:
        """Stop and release the device."""
        with contextlib.suppress(OSError):
            self._stream.stop_stream()
            self._stream.close()
        self._audio.terminate()
