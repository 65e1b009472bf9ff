"""The ``realtime-agent`` command.

``realtime-agent schema check FILE``  validate a JSONL stream of Realtime events and summarise it
``realtime-agent schema export DIR``  write the JSON Schema of every event (``schemas/``)
``realtime-agent serve``              run the local Realtime server until Ctrl-C
``realtime-agent demo``               a spoken conversation with a tool call (offline by default)
``realtime-agent devices``            the audio devices PortAudio sees, or why there are none
``realtime-agent chat-audio PROMPT``  a spoken answer from Chat Completions into a WAV
``realtime-agent report DIR``         a recording drawn as one self-contained HTML page
``realtime-agent sample [FILE]``      the bundled spoken question: its path, or a copy at FILE

Every command takes ``-v`` (INFO: each connection of ``serve`` and ``web``), ``-vv``
(DEBUG) or ``--log-level LEVEL``, before or after its name. A mistake on the command line
is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from realtime_agent import _logs
from realtime_agent._version import __version__
from realtime_agent.errors import RemoteProtocolError
from realtime_agent.http.client import DEFAULT_MODEL
from realtime_agent.schema import codec, jsonschema
from realtime_agent.schema.beta import BETA_CLIENT_EVENT_TYPES
from realtime_agent.schema.client import GA_CLIENT_EVENT_TYPES, GA_EXTRA_CLIENT_EVENT_TYPES
from realtime_agent.schema.client import InputAudioBufferAppend as Append
from realtime_agent.schema.codec import UnknownClientEvent, UnknownServerEvent
from realtime_agent.schema.server import AudioDeltaFields

if TYPE_CHECKING:
    from realtime_agent.server import LocalRealtimeServer, Pacing

__all__ = ["StreamSummary", "check_stream", "main"]

_PCM16_BYTES_PER_MS = 48  # 24 kHz mono 16-bit


@dataclass
class StreamSummary:
    """What ``schema check`` found in a stream of events."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(line number, message) of each frame that broke the protocol."""
    input_audio_bytes: int = 0
    output_audio_bytes: int = 0

    def report(self, out: TextIO) -> None:
        """Print the summary."""
        out.write(
            f"{self.events} events: {len(self.by_type)} known types, "
            f"{sum(self.unknown.values())} of unknown types, {len(self.errors)} errors\n"
        )
        for event_type, count in sorted(self.by_type.items()):
            out.write(f"  {count:6d}  {event_type}\n")
        for event_type, count in sorted(self.unknown.items()):
            out.write(f"  {count:6d}  {event_type}  (unknown type, kept as raw JSON)\n")
        if self.input_audio_bytes or self.output_audio_bytes:
            out.write(
                f"audio (pcm16 24 kHz): {self.input_audio_bytes / _PCM16_BYTES_PER_MS:.0f} ms in, "
                f"{self.output_audio_bytes / _PCM16_BYTES_PER_MS:.0f} ms out\n"
            )
        for line, message in self.errors:
            out.write(f"line {line}: {message}\n")


def check_stream(lines: Iterable[str], *, dialect: str = "ga") -> StreamSummary:
    """Validate every event of a JSONL stream; client and server events may be mixed.

    A line whose ``type`` is a client event type is read as a client event, any other
    as a server event. Blank lines and lines starting with ``#`` are skipped.
    """
    beta = dialect == "beta"
    client_types = BETA_CLIENT_EVENT_TYPES if beta else GA_CLIENT_EVENT_TYPES
    client_types = client_types | GA_EXTRA_CLIENT_EVENT_TYPES
    decode_client = codec.decode_beta_client if beta else codec.decode_client
    decode_server = codec.decode_beta if beta else codec.decode
    summary = StreamSummary()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        summary.events += 1
        try:
            if codec.sniff_type(text) in client_types:
                event: object = decode_client(text)
            else:
                event = decode_server(text)
            if isinstance(event, UnknownServerEvent | UnknownClientEvent):
                summary.unknown[event.type] += 1
                continue
            if isinstance(event, Append):
                summary.input_audio_bytes += len(event.audio_bytes)
            elif isinstance(event, AudioDeltaFields):
                summary.output_audio_bytes += len(event.audio_bytes)
            summary.by_type[str(getattr(event, "type", "?"))] += 1
        except RemoteProtocolError as exc:
            summary.errors.append((number, str(exc)))
    return summary


def _schema_check(args: argparse.Namespace) -> int:
    from realtime_agent.report import RecordingCheck, check_recording, looks_like_recording

    path: Path = args.file
    summary: StreamSummary | RecordingCheck
    try:
        with path.open(encoding="utf-8") as stream:
            first = next((line for line in stream if line.strip()), "")
            stream.seek(0)
            if looks_like_recording(first):  # a recording's transcript.jsonl: its own lines
                summary = check_recording(stream)
            else:
                summary = check_stream(stream, dialect=args.dialect)
    except OSError as exc:
        print(f"realtime-agent: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"realtime-agent: {path} is not UTF-8 text ({exc.reason})", file=sys.stderr)
        return 2
    summary.report(sys.stdout)
    return 1 if summary.errors else 0


def _schema_export(args: argparse.Namespace) -> int:
    try:
        written = jsonschema.write(args.directory)
    except OSError as exc:  # a file in the way, no permission, a read-only file system
        where = exc.filename or args.directory
        print(f"realtime-agent: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024}


def _size(option: str, text: str) -> int | None:
    """A size option: bytes, or with a K/M/G suffix (KiB, MiB, GiB); ``none``: no limit."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    if value == "NONE":
        return None
    unit = value[-1:] if value[-1:] in _SIZE_UNITS else ""
    try:
        size = int(float(value.removesuffix(unit)) * _SIZE_UNITS[unit])
    except (ValueError, OverflowError):
        raise ValueError(f"{option}: not a size: {text!r} (e.g. 32M, 512K, none)") from None
    if size < 1:
        raise ValueError(f"{option} must be positive (or none), not {text!r}")
    return size


def _count(option: str, text: str) -> int | None:
    """A count option; ``none``: no limit."""
    if text.strip().lower() == "none":
        return None
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"{option}: not a number: {text!r}") from None
    if count < 1:
        raise ValueError(f"{option} must be positive (or none), not {text!r}")
    return count


def _pacing(text: str) -> Pacing:
    """``--pacing``: ``instant``, or how many times real time the audio is sent."""
    from realtime_agent.server import Pacing

    if text.strip().lower() == "instant":
        return Pacing.instant()
    try:
        return Pacing.times(float(text))
    except ValueError:  # not a number, or not a finite one above 0
        raise ValueError(
            "--pacing is 'instant' or how many times real time the audio is sent "
            f"(a number above 0: 1 is real time, 4 four times faster), not {text!r}"
        ) from None


def _port(text: str) -> int:
    """A ``--port``: 0-65535 (0: any free port)."""
    port = int(text) if text.strip().isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0: any free one), not {text!r}")
    return port


def _local_server(args: argparse.Namespace) -> LocalRealtimeServer:
    """The server ``serve`` runs. Raises ValueError or RuntimeError on a bad option."""
    from realtime_agent.server import LocalRealtimeServer
    from realtime_agent.server.speech import (
        EspeakVoice,
        SpeechSynthesizer,
        SyntheticVoice,
        default_synthesizer,
    )

    pacing = _pacing(args.pacing)
    max_message_bytes = _size("--max-message-bytes", args.max_message_bytes)
    max_outbound_bytes = _size("--max-outbound-bytes", args.max_outbound_bytes)
    max_connections = _count("--max-connections", args.max_connections)
    voice: SpeechSynthesizer
    if args.voice == "espeak":
        voice = EspeakVoice()  # RuntimeError, in one line, without the voice extra
    elif args.voice == "synthetic":
        voice = SyntheticVoice()
    else:
        voice = default_synthesizer()
    script = None
    if args.script is not None:
        from realtime_agent.server.script import load_script

        script = load_script(args.script)  # ScriptError (a ValueError): FILE:LINE: problem
    return LocalRealtimeServer(
        host=args.host,
        port=args.port,
        pacing=pacing,
        api_key=args.api_key,
        vad=args.vad,
        synthesizer=voice,
        max_message_bytes=max_message_bytes,
        max_connections=max_connections,
        allowed_origins=args.allowed_origins,
        max_outbound_bytes=max_outbound_bytes,
        keep_sessions=False,  # a server on a port: forget each session when it ends
        responder=None if script is None else script.for_connection,
        faults=() if script is None else script.fault_plan,
    )


def _serve(args: argparse.Namespace) -> int:
    try:
        server = _local_server(args)
    except (ValueError, RuntimeError) as exc:
        print(f"realtime-agent: {exc}", file=sys.stderr)
        return 2

    async def run() -> None:
        async with server:
            print(f"local Realtime server at {server.url}", flush=True)  # tests read this line
            print("GA by default; beta with the header OpenAI-Beta: realtime=v1", flush=True)
            if args.script is not None:
                print(f"playing the conversation script {args.script}", flush=True)
            await server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    except OSError as exc:
        print(
            f"realtime-agent: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    return 0


def _web(args: argparse.Namespace) -> int:
    try:
        from realtime_agent.web.serve import run
        from realtime_agent.web.settings import SECRET_ENV, WebSettings, load_agent
    except ImportError as exc:
        print(
            f"realtime-agent web: needs the web extra (pip install 'realtime-agent[web]'): {exc}",
            file=sys.stderr,
        )
        return 2
    if args.upstream is not None and not args.upstream.startswith(("ws://", "wss://")):
        print(
            f"realtime-agent web: --upstream is a ws:// or wss:// URL, not {args.upstream!r}",
            file=sys.stderr,
        )
        return 2
    if args.audio_dir is not None and not os.path.isdir(args.audio_dir):
        print(
            f"realtime-agent web: --audio-dir {args.audio_dir}: no such directory", file=sys.stderr
        )
        return 2
    try:
        settings = WebSettings(
            agent=args.agent,
            upstream=args.upstream,
            insecure=args.insecure,
            allowed_origins=tuple(args.allow_origin or ()),
            public_url=args.public_url,
            drain_timeout=args.drain_timeout,
            audio_dir=args.audio_dir,
            audio_sample_rate=args.audio_rate,
            audio_chunk_ms=args.audio_chunk_ms,
        )
        load_agent(settings.agent)  # a bad --agent is one line here, not in each worker
    except ValueError as exc:
        print(f"realtime-agent web: {exc}", file=sys.stderr)
        return 2
    token = ""
    if args.insecure:
        print(
            "realtime-agent web: WARNING: --insecure: no browser token and no Twilio "
            "signature is checked. For local development only.",
            file=sys.stderr,
        )
    else:
        import secrets

        from realtime_agent.web.auth import mint_token

        if not os.environ.get(SECRET_ENV):
            # No secret given: one for this run, shared by the workers; the URL below
            # carries a token signed with it (in the fragment: never sent to a server).
            os.environ[SECRET_ENV] = secrets.token_urlsafe(32)
        token = "#token=" + mint_token(os.environ[SECRET_ENV], ttl=12 * 3600, subject="cli")

    def announce(url: str) -> None:
        print(f"realtime-agent web: open {url}{token}", flush=True)  # tests read this line
        upstream = args.upstream or (
            "OpenAI" if os.environ.get("OPENAI_API_KEY") else "the embedded local Realtime server"
        )
        print(f"  talking to {upstream}; Ctrl-C or SIGTERM drains and stops", flush=True)

    try:
        run(
            settings,
            host=args.host,
            port=args.port,
            workers=args.workers,
            announce=announce,
            log_level=args.level,  # each worker logs as this process does
        )
    except OSError as exc:
        print(
            f"realtime-agent web: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    except ValueError as exc:
        print(f"realtime-agent web: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    print("stopped", file=sys.stderr)
    return 0


def _demo_timeout(text: str) -> float:
    """``demo --timeout``: seconds, 0 for never."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        raise argparse.ArgumentTypeError(f"seconds, 0 or more (0: never), not {text!r}")
    return seconds


def _demo_level(text: str) -> float:
    """``demo --half-duplex``: a level in dBFS, below 0."""
    try:
        level = float(text)
    except ValueError:
        level = math.nan
    if not -math.inf < level < 0:
        raise argparse.ArgumentTypeError(f"a level in dBFS below 0 (e.g. -25), not {text!r}")
    return level


def _demo(args: argparse.Namespace) -> int:
    from realtime_agent.demo import DemoOptions, microphone_available, run_demo

    if args.mic is None:  # a person at a terminal with a sound card gets the microphone
        args.mic = args.wav_in is None and sys.stdin.isatty() and microphone_available()
    if args.timeout is None:
        args.timeout = 0 if args.mic else 60.0  # the microphone: talk until Ctrl-C
    device: int | str | None = args.device
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    options = DemoOptions(
        wav_in=args.wav_in,
        out=None if args.no_record else args.out,
        url=args.url,
        api_key=args.api_key,
        mic=args.mic,
        device=device,
        fast=args.fast,
        timeout=args.timeout if args.timeout > 0 else None,
        half_duplex=args.half_duplex,
    )
    try:
        return asyncio.run(run_demo(options))
    except KeyboardInterrupt:
        print("bye", file=sys.stderr)
        return 0


def _devices(args: argparse.Namespace) -> int:
    from realtime_agent.audio.devices import list_devices
    from realtime_agent.errors import AudioError

    try:
        devices = list_devices()
    except AudioError as exc:
        print(f"realtime-agent: {exc}", file=sys.stderr)
        return 2
    if not devices:
        print("PortAudio sees no audio devices on this machine.")
        return 1
    for device in devices:
        print(device)
    return 0


def _report(args: argparse.Namespace) -> int:
    from realtime_agent.report import RecordingError, read_recording, write_report

    try:
        recording = read_recording(args.directory)
    except RecordingError as exc:
        print(f"realtime-agent report: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out or args.directory / "report.html"
    try:
        write_report(recording, out)
    except OSError as exc:
        print(f"realtime-agent report: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    counts = [
        (len(recording.turns), "turn"),
        (len(recording.tool_calls), "tool call"),
        (len(recording.cuts), "barge-in"),
    ]
    drawn = ", ".join(f"{n} {what}{'' if n == 1 else 's'}" for n, what in counts)
    print(f"wrote {out}: {recording.duration:.1f} s, {drawn}")
    return 0


def _chat_audio(args: argparse.Namespace) -> int:
    from realtime_agent.http.command import ChatAudioOptions, run_chat_audio

    options = ChatAudioOptions(
        prompt=args.prompt,
        out=args.out,
        voice=args.voice,
        model=args.model,
        system=args.system,
        url=args.url,
        sample_rate=args.sample_rate,
        timeout=args.timeout,
        fast=args.fast,
    )
    try:
        return asyncio.run(run_chat_audio(options))
    except KeyboardInterrupt:
        print(f"realtime-agent chat-audio: interrupted ({args.out} has what came)", file=sys.stderr)
        return 130


def _sample(args: argparse.Namespace) -> int:
    import shutil

    from realtime_agent.demo import SAMPLE_QUESTION, sample_wav

    source = sample_wav()
    target: Path | None = args.file
    if target is None:
        print(source)
        return 0
    if target.is_dir():
        target = target / "question.wav"
    if target.exists():
        print(f"realtime-agent sample: {target} exists: not overwritten", file=sys.stderr)
        return 2
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        print(
            f"realtime-agent sample: cannot write {target}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    print(f'wrote {target}: "{SAMPLE_QUESTION}", spoken (24 kHz mono WAV)')
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake said in one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_logging_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``-v`` and ``--log-level`` on ``parser`` and on every sub-command under it.

    A sub-command's copies default to nothing, so that the options may come before the
    command's name or after it.
    """
    unset = argparse.SUPPRESS
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else unset,
        help="log more: -v INFO (each connection of serve and web), -vv DEBUG",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=_logs.LEVELS,
        metavar="LEVEL",
        default=None if top else unset,
        help=f"the realtime_agent loggers' level, one of {', '.join(_logs.LEVELS)} "
        "(default WARNING; wins over -v)",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _add_logging_options(command, top=False)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="realtime-agent", description="Realtime voice agents on the OpenAI Realtime API."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    schema = commands.add_parser("schema", help="the Realtime event schema")
    schema_commands = schema.add_subparsers(dest="schema_command", metavar="COMMAND", required=True)

    check = schema_commands.add_parser(
        "check", help="validate a JSONL stream of Realtime events and summarise it"
    )
    check.add_argument("file", type=Path, help="one JSON event per line")
    check.add_argument("--dialect", choices=("ga", "beta"), default="ga")
    check.set_defaults(run=_schema_check)

    export = schema_commands.add_parser("export", help="write the JSON Schema of every event")
    export.add_argument(
        "directory", type=Path, nargs="?", default=Path("schemas"), help="default: ./schemas"
    )
    export.set_defaults(run=_schema_export)

    serve = commands.add_parser("serve", help="run the local Realtime server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8765, help="default 8765 (0: any free port)")
    serve.add_argument(
        "--pacing",
        default="1",
        help="audio speed: 'instant', or N times real time (default 1: real time)",
    )
    serve.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    serve.add_argument(
        "--vad",
        choices=("auto", "silero", "webrtc", "energy"),
        default="auto",
        help="the server VAD's detector: silero (the voice extra), webrtc, or energy (a level "
        "gate); default auto: silero when installed, else webrtc",
    )
    serve.add_argument(
        "--voice",
        choices=("auto", "espeak", "synthetic"),
        default="auto",
        help="how replies sound: espeak-ng words (the voice extra) or a synthetic voice "
        "without words; default auto: espeak-ng when installed",
    )
    serve.add_argument(
        "--max-message-bytes",
        metavar="SIZE",
        default="32M",
        help="largest client message, e.g. 32M, 512K or none; a larger one closes its "
        "connection with 1009 (default 32M: a 15 MiB audio append, the API's largest, fits)",
    )
    serve.add_argument(
        "--max-connections",
        metavar="N",
        default="1000",
        help="connections served at once; one more gets HTTP 503 (default 1000; none: no cap)",
    )
    serve.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        metavar="ORIGIN",
        action="append",
        default=None,
        help="serve browsers only from this Origin, e.g. http://localhost:3000 (repeatable; "
        "others get HTTP 403; requests without an Origin are served); default: any",
    )
    serve.add_argument(
        "--max-outbound-bytes",
        metavar="SIZE",
        default="16M",
        help="what may wait for a client that does not read before it is disconnected "
        "(default 16M; none: no limit)",
    )
    serve.add_argument(
        "--script",
        type=Path,
        metavar="FILE",
        default=None,
        help="answer from a conversation script (TOML: say, call a tool, expect, delay, "
        "fault, turn by turn; see realtime_agent/server/script.py)",
    )
    serve.set_defaults(run=_serve)

    web = commands.add_parser(
        "web", help="the web server: voice page, browser relay, Twilio bridge, metrics"
    )
    web.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (0.0.0.0: all)")
    web.add_argument("--port", type=_port, default=8000, help="default 8000 (0: any free port)")
    web.add_argument(
        "--agent",
        metavar="MODULE:ATTRIBUTE",
        default=None,
        help="your Agent (or a function returning one); default: the demo agent",
    )
    web.add_argument(
        "--upstream",
        metavar="URL",
        default=None,
        help="a Realtime server URL (default: OpenAI if OPENAI_API_KEY is set, "
        "else an embedded local server)",
    )
    web.add_argument("--workers", type=int, default=1, help="processes (one per core; default 1)")
    web.add_argument(
        "--insecure",
        action="store_true",
        help="no browser tokens, no Twilio signatures: local development only",
    )
    web.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="a browser origin allowed besides the page's own (repeatable; * for any)",
    )
    web.add_argument(
        "--public-url",
        default=None,
        help="the public base URL Twilio reaches (https://host): TwiML and signatures use it",
    )
    web.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="on SIGTERM, seconds live calls may go on before they are closed (default 30)",
    )
    web.add_argument(
        "--audio-dir",
        metavar="DIR",
        default=None,
        help="POST /audio/chat/completions answers with DIR/file.txt and DIR/file.pcm "
        "(or file.wav); default: the stand-in model speaks",
    )
    web.add_argument(
        "--audio-rate",
        type=int,
        default=16000,
        metavar="HZ",
        help="that endpoint's pcm16 sample rate (default 16000)",
    )
    web.add_argument(
        "--audio-chunk-ms",
        type=int,
        default=40,
        metavar="MS",
        help="the duration of each of its audio chunks (default 40)",
    )
    web.set_defaults(run=_web)

    demo = commands.add_parser(
        "demo", help="a spoken conversation with a tool call (offline without OPENAI_API_KEY)"
    )
    demo.add_argument(
        "--in",
        dest="wav_in",
        type=Path,
        default=None,
        metavar="WAV",
        help="speak this WAV file (default: the bundled question)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        metavar="DIR",
        help="the recording's folder (default demo-output)",
    )
    demo.add_argument("--no-record", action="store_true", help="do not record")
    demo.add_argument(
        "--mic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="microphone and speaker (default: when at a terminal with pyaudio and devices)",
    )
    demo.add_argument("--device", default=None, help="audio device: index or part of its name")
    demo.add_argument(
        "--url",
        default=None,
        help="talk to this Realtime server instead (sends OPENAI_API_KEY, if set, as its key)",
    )
    demo.add_argument(
        "--api-key",
        metavar="KEY",
        default=None,
        help="the key to send (to --url, else to OpenAI) instead of OPENAI_API_KEY; other "
        "users see it in `ps`: prefer the variable",
    )
    demo.add_argument(
        "--fast", action="store_true", help="no real-time pacing, instant playback (for tests)"
    )
    demo.add_argument(
        "--timeout",
        type=_demo_timeout,
        default=None,
        metavar="SECONDS",
        help="give up after this long (0: never; default 60, never with the microphone)",
    )
    demo.add_argument(
        "--half-duplex",
        type=_demo_level,
        metavar="DBFS",
        default=None,
        help="no headphones: while the agent speaks, only input louder than this (e.g. -25) counts",
    )
    demo.set_defaults(run=_demo)

    devices = commands.add_parser("devices", help="list audio devices, or say why there are none")
    devices.set_defaults(run=_devices)

    chat_audio = commands.add_parser(
        "chat-audio",
        help="a spoken answer from Chat Completions into a WAV (offline without OPENAI_API_KEY)",
        description="Stream a spoken answer (Chat Completions, modalities text and audio) into "
        "a WAV file, printing its transcript. Asks --url if given, else OpenAI when "
        "OPENAI_API_KEY is set, else the local stack in this process (offline).",
    )
    chat_audio.add_argument("prompt", help="what to ask")
    chat_audio.add_argument(
        "--out", type=Path, default=Path("reply.wav"), help="the WAV to write (default reply.wav)"
    )
    chat_audio.add_argument("--voice", default="alloy", help="the voice (default alloy)")
    chat_audio.add_argument("--model", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    chat_audio.add_argument("--system", default=None, help="a system message first")
    chat_audio.add_argument(
        "--url",
        default=None,
        help="a Chat Completions endpoint, e.g. http://127.0.0.1:8000/v1/chat/completions or an "
        "Agora-style .../audio/chat/completions (its key: OPENAI_API_KEY, else "
        "REALTIME_AGENT_HTTP_KEY)",
    )
    chat_audio.add_argument(
        "--sample-rate",
        type=int,
        default=None,
        metavar="HZ",
        help="the audio's rate (default 24000; 16000 for an .../audio/chat/completions URL)",
    )
    chat_audio.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for each step (default 60)"
    )
    chat_audio.add_argument(
        "--fast", action="store_true", help="the local stack streams without real-time pacing"
    )
    chat_audio.set_defaults(run=_chat_audio)

    report = commands.add_parser(
        "report",
        help="draw a recording (demo --out DIR, connect(record=DIR)) as one HTML page",
        description="Write a self-contained HTML page (nothing fetched) from a recording "
        "directory: both sides' waveforms on one time axis, the turns with their "
        "transcripts, tool calls with arguments and results, barge-ins where they cut, "
        "and each turn's latency.",
    )
    report.add_argument("directory", type=Path, help="the recording's directory")
    report.add_argument(
        "--out", type=Path, default=None, help="the page to write (default DIRECTORY/report.html)"
    )
    report.set_defaults(run=_report)

    sample = commands.add_parser(
        "sample",
        help="the bundled spoken question: print its path, or copy it to FILE",
        description="The WAV the demo speaks when given none (a question about the weather "
        "in Paris): its path in the installed package, or a copy of it at FILE (a folder: "
        "FILE/question.wav), for trying --in WAV with.",
    )
    sample.add_argument("file", type=Path, nargs="?", default=None, help="where to copy it")
    sample.set_defaults(run=_sample)

    _add_logging_options(parser, top=True)  # last: on every sub-command above
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2: a mistake, said in one line)."""
    return _main(argv)[0]


def _main(argv: Sequence[str] | None) -> tuple[int, str | None]:
    """The exit status, and the command that ran (None if none did)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit:  # --help, --version, or a mistake: already said
        return (exit.code if isinstance(exit.code, int) else 2), None
    args.level = _logs.level_for(args.verbose, args.log_level)
    undo = _logs.configure(args.level)
    try:
        status: int = args.run(args)
    finally:
        undo()
    return status, args.command


def run() -> None:
    """The ``realtime-agent`` command: :func:`main`, then exit.

    The servers (``serve``, ``web``) exit at once once they have closed everything:
    native libraries they load (Silero's ggml runtime; espeak-ng) keep threads and
    destructors that an interpreter's normal exit may wait on, and a stopped server must
    not hang its supervisor. The other commands exit normally.
    """
    status, command = _main(sys.argv[1:])
    if command in ("serve", "web"):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    run()
