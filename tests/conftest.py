"""Suite-wide checks: what the runtime puts on the wire, and whether a test blocks its loop.

**The wire audit** (issue 10, item 15). Every text frame that our runtime's socket
(:class:`~realtime_agent.runtime.transport._DirectConnection`) sends during a test is checked
against the openai SDK's client-event param types (``tests/wire_audit.py``); a violation
fails that test at teardown, with the frame and the path of the bad field. Frames from
other clients (the openai SDK's, the raw websockets clients that send malformed frames on
purpose) and from the local server are not ours and are not audited. A test that sends a
bad event on purpose through ``session.send_event`` opts out with
``@pytest.mark.no_wire_audit(reason)``. Without ``openai`` (CI's wheel and websockets-15
runs) there is nothing to check against, and the audit is off.

**The loop watch** (item 19). While an async test's body runs, a heartbeat on its event
loop (a ``call_at`` that reschedules itself every :data:`HEARTBEAT` seconds) measures its
own lateness: how long the loop went without running its callbacks. Less the time the
thread waited for a CPU (a busy machine) and the time in the garbage collector (the whole
suite's heap), that is how long the test blocked its loop; past :data:`LOOP_BLOCK_LIMIT`
the test fails at teardown, naming how long. ``@pytest.mark.loop_block_limit(seconds,
reason=...)`` raises the limit for one test. Sync tests, and async fixtures' setup and
teardown, are not watched.

``--wire-audit-report`` and ``--loop-watch-report`` turn either check into a report: no
test fails, and the terminal summary lists what was found.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib.util
import inspect
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

if TYPE_CHECKING or importlib.util.find_spec("openai") is not None:
    from tests.wire_audit import Violation, WireRecorder, is_beta_request

    AUDIT = True
else:
    AUDIT = False

HEARTBEAT = 0.01
"""The heartbeat's period: a block of B seconds shows as a lateness between B - HEARTBEAT and B."""
LOOP_BLOCK_LIMIT = 0.1
"""The longest an async test may keep its loop from running callbacks (seconds)."""
SHOWN_VIOLATIONS = 10

try:  # the web server's tests need the web extra (CI's wheel run goes without it)
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError:
    collect_ignore = ["web"]

pytest_plugins = ["pytester"]  # tests/test_loop_watch.py and test_wire_audit.py run inner suites

_watch_key = pytest.StashKey["LoopWatch"]()
_violations: dict[tuple[str, str, str], list[str]] = {}  # for --wire-audit-report
_blocks: list[tuple[Stall, str]] = []  # for --loop-watch-report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtime-agent checks")
    group.addoption(
        "--wire-audit-report",
        action="store_true",
        help="list the client frames the SDK's types refuse instead of failing their tests",
    )
    group.addoption(
        "--loop-watch-report",
        action="store_true",
        help="list how long each async test blocked its loop instead of failing it",
    )


def pytest_configure(config: pytest.Config) -> None:
    gc.callbacks.append(_collector)
    config.addinivalue_line(
        "markers",
        "no_wire_audit(reason): the test sends client events that the SDK's types refuse, "
        "on purpose; do not audit its frames",
    )
    config.addinivalue_line(
        "markers",
        "loop_block_limit(seconds, reason): let this test block its event loop for up to "
        f"`seconds` (default {LOOP_BLOCK_LIMIT:g})",
    )


# The wire audit.

_recorder: WireRecorder | None = None
"""Where the spy puts frames: the current test's recorder (None between tests)."""


@pytest.fixture(scope="session", autouse=True)
def _wire_spy() -> Iterator[None]:
    """Wrap websockets' ``Connection.send`` to note what our runtime's socket sends."""
    if not AUDIT:
        yield
        return
    from websockets.asyncio.connection import Connection

    from realtime_agent.runtime.transport import _DirectConnection

    send = Connection.send

    @functools.wraps(send)
    async def spied(self: Connection, message: Any, *args: Any, **kwargs: Any) -> None:
        if _recorder is not None and isinstance(self, _DirectConnection):
            request = self.request
            beta = request is not None and is_beta_request(
                request.headers.get("OpenAI-Beta"), request.path
            )
            _recorder.record(self, beta, message)
        await send(self, message, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Connection, "send", spied)
        yield


def _audit_failure(request: pytest.FixtureRequest, recorder: WireRecorder) -> str | None:
    """What to fail the test with for what its runtime sent (or report it)."""
    found = recorder.violations()
    grouped: dict[tuple[str, str, str], list[Violation]] = {}
    for violation in found:
        key = (violation.event, violation.path, violation.problem)
        grouped.setdefault(key, []).append(violation)
    if not found or request.config.getoption("wire_audit_report"):
        for key in grouped:
            _violations.setdefault(key, []).append(request.node.nodeid)
        return None
    lines = [f"{len(found)} client frame field(s) that the openai SDK's types refuse:"]
    for same in list(grouped.values())[:SHOWN_VIOLATIONS]:
        times = f" ({len(same)} times)" if len(same) > 1 else ""
        lines.append(f"  {same[0]}{times}")
    if len(grouped) > SHOWN_VIOLATIONS:
        lines.append(f"  ... and {len(grouped) - SHOWN_VIOLATIONS} more kinds")
    return "\n".join(lines)


# The loop watch.


class _RunQueue:
    """How long this thread has waited to run while runnable (Linux's schedstat; 0 elsewhere).

    A busy machine delays the loop although nothing blocks it: that time is not the test's.
    """

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def waited(self) -> float:
        if self._fd is None:
            return 0.0
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _GarbageCollector:
    """How long the garbage collector has run in this process (``gc.callbacks``).

    A full collection of the suite's heap (a quarter of a million objects: pydantic's
    schemas, hypothesis) takes a few hundred milliseconds wherever it falls: the suite's
    doing, not the test's.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


_collector = _GarbageCollector()


@dataclass(frozen=True)
class Stall:
    """One time the loop ran no callback for longer than the heartbeat's period."""

    late: float
    """How late the heartbeat ran (seconds)."""
    cpu: float
    """The CPU time the loop's thread used meanwhile: near ``late``, it was computing."""
    waiting: float
    """The time it was runnable but not run (a busy machine): not the test's doing."""
    collecting: float
    """The time in the garbage collector: not the test's doing either."""

    @property
    def blocked(self) -> float:
        """How long the test kept its loop from running callbacks."""
        return max(0.0, self.late - self.waiting - self.collecting)


class LoopWatch:
    """A heartbeat on a running loop that notes its longest stall (see the module docstring).

    Create and use it on the loop's thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.worst = Stall(0.0, 0.0, 0.0, 0.0)
        self._run_queue = _RunQueue()
        self._handle: asyncio.TimerHandle | None = None
        self._due = self._cpu = self._waited = self._collected = 0.0

    def start(self) -> None:
        """Start beating."""
        self._schedule(self.loop.time())

    def _schedule(self, now: float) -> None:
        self._due = now + HEARTBEAT
        self._cpu, self._waited = time.thread_time(), self._run_queue.waited()
        self._collected = _collector.total
        self._handle = self.loop.call_at(self._due, self._beat)

    def _note(self) -> float:
        now = self.loop.time()
        if now - self._due > self.worst.blocked:
            stall = Stall(
                now - self._due,
                time.thread_time() - self._cpu,
                self._run_queue.waited() - self._waited,
                _collector.total - self._collected,
            )
            if stall.blocked > self.worst.blocked:
                self.worst = stall
        return now

    def _beat(self) -> None:
        self._schedule(self._note())

    def stop(self) -> None:
        """Stop, counting a beat that is overdue now as well."""
        if self._handle is not None:
            self._note()
            self._handle.cancel()
            self._handle = None
        self._run_queue.close()


def _watched(
    test: Callable[..., Coroutine[Any, Any, None]], item: pytest.Item
) -> Callable[..., Coroutine[Any, Any, None]]:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        watch = item.stash[_watch_key] = LoopWatch(asyncio.get_running_loop())
        watch.start()
        try:
            await test(*args, **kwargs)
        finally:
            watch.stop()

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run each async test's body under a :class:`LoopWatch` (pytest-asyncio runs ``obj``)."""
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and pytest_asyncio.is_async_test(item)
            and inspect.iscoroutinefunction(item.obj)
        ):
            item.obj = _watched(item.obj, item)


def _loop_limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("loop_block_limit")
    if marker is None:
        return LOOP_BLOCK_LIMIT
    if len(marker.args) != 1 or not marker.kwargs.get("reason"):
        pytest.fail("use loop_block_limit(seconds, reason=...)", pytrace=False)
    return float(marker.args[0])


def _loop_failure(request: pytest.FixtureRequest, limit: float) -> str | None:
    """What to fail the test with for how long it blocked its loop (or report it)."""
    watch = request.node.stash.get(_watch_key, None)
    if watch is None:
        return None
    if request.config.getoption("loop_watch_report"):
        _blocks.append((watch.worst, request.node.nodeid))
        return None
    if watch.worst.blocked <= limit:
        return None
    return (
        f"the test blocked its event loop for {watch.worst.blocked * 1000:.0f} ms "
        f"(limit {limit * 1000:.0f} ms): something ran without awaiting"
    )


# Both checks.


@pytest.fixture(autouse=True)
def _suite_checks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Record the wire and watch the loop during the test; fail it at teardown.

    Autouse, so set up before the test's own fixtures and torn down after them: what the
    runtime sends while they close is audited too.
    """
    global _recorder
    limit = _loop_limit(request.node)
    marker = request.node.get_closest_marker("no_wire_audit")
    if marker is not None and not (marker.args or marker.kwargs.get("reason")):
        pytest.fail("no_wire_audit needs a reason", pytrace=False)
    recorder = _recorder = WireRecorder() if AUDIT and marker is None else None
    try:
        yield
    finally:
        _recorder = None
    failures = [_loop_failure(request, limit)]
    if recorder is not None:
        failures.append(_audit_failure(request, recorder))
    if any(failures):
        pytest.fail("\n".join(f for f in failures if f), pytrace=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _collector in gc.callbacks:
        gc.callbacks.remove(_collector)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    write = terminalreporter.write_line
    if config.getoption("wire_audit_report"):
        terminalreporter.section("wire audit: client frames the SDK's types refuse")
        for (event, path, problem), tests in sorted(_violations.items()):
            write(f"{event}: {path}: {problem}  [{len(tests)} tests]")
            for nodeid in tests:
                write(f"    {nodeid}")
        if not _violations:
            write("none")
    if config.getoption("loop_watch_report"):
        terminalreporter.section("loop watch: the longest each async test blocked its loop")
        for stall, nodeid in sorted(_blocks, key=lambda block: -block[0].blocked):
            if stall.blocked >= LOOP_BLOCK_LIMIT / 4:
                write(
                    f"{stall.blocked * 1000:6.0f} ms  (late {stall.late * 1000:.0f}, "
                    f"cpu {stall.cpu * 1000:.0f}, waiting {stall.waiting * 1000:.0f}, "
                    f"gc {stall.collecting * 1000:.0f})  {nodeid}"
                )
        floor = LOOP_BLOCK_LIMIT / 4 * 1000
        write(f"({len(_blocks)} async tests watched; those under {floor:.0f} ms not shown)")
