"""Running tool calls: validate the arguments, run within the time-out, always answer.

:class:`ToolRunner` runs a session's calls. It never raises for what the tool or the
model got wrong: arguments that are not JSON or do not fit the signature, an exception
in the tool, a time-out, a result that cannot be shown to the model (its ``str()``
raises, or it is text with lone surrogates, which no JSON can carry), all become a
:class:`ToolResult` whose ``output`` the model can read (a JSON object with an
``error``) and whose ``error`` the application sees.

Each call is bounded by its tool's time-out whatever the tool does:

* an async tool runs as a task of its own; at the time-out it is cancelled and the
  call answered at once, without waiting for the task to end (a tool that swallows
  its cancellation cannot hold the session; it runs on, ignored, until it returns);
* a sync tool runs on a small pool of daemon threads (``threads``, 4 by default). A
  thread cannot be killed: on time-out its late result is discarded and the call counts
  in :attr:`ToolRunner.abandoned`; while every thread is stuck, further sync calls wait
  for one, within their own time-outs. Daemon threads never keep the process alive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from realtime_agent.tools.handoff import Handoff
from realtime_agent.tools.tool import Tool

__all__ = ["DEFAULT_THREADS", "ToolResult", "ToolRunner", "run_call"]

logger = logging.getLogger("realtime_agent.tools")

#: Worker threads for a session's sync tools.
DEFAULT_THREADS = 4


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A call's answer: the output for the model, and what went wrong, if anything."""

    output: str
    error: str | None = None
    handoff: Handoff | None = None


def failure(message: str) -> ToolResult:
    """An answer that tells the model (and the application) what went wrong."""
    return ToolResult(json.dumps({"error": message}), error=message)


def _output(tool: Tool, value: Any) -> ToolResult:
    """The model's view of a tool's return value, or a failure if it has none."""
    if isinstance(value, Handoff):
        message = value.message or f"The conversation was handed to {value.agent.name}."
        return ToolResult(
            json.dumps({"handoff": value.agent.name, "message": message}), handoff=value
        )
    try:
        if isinstance(value, str):
            text = value
        else:
            try:
                text = to_json(value).decode()
            except Exception:
                text = json.dumps(str(value))
        text.encode("utf-8")  # lone surrogates: no JSON text can carry them
    except UnicodeError:
        return failure(f"{tool.name} returned text that is not valid Unicode")
    except Exception as exc:
        return failure(f"{tool.name} returned a value that cannot be shown: {type(exc).__name__}")
    return ToolResult(text)


class _ThreadPool:
    """At most ``size`` daemon threads, started as needed, for sync tools.

    Not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined when the
    interpreter exits, so one hung tool would keep the process from ending.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a tool runner needs at least one thread")
        self.size = size
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(
        self, function: Callable[..., Any], arguments: dict[str, Any]
    ) -> asyncio.Future[Any]:
        """Run ``function(**arguments)`` on a worker; its future settles on this loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, function, arguments))
        with self._lock:
            start = self._idle == 0 and self._threads < self.size
            if start:
                self._threads += 1
        if start:
            threading.Thread(target=self._work, name="realtime-agent-tool", daemon=True).start()
        return future

    def shutdown(self) -> None:
        """Let every thread end once it is free (a stuck one ends when its call returns)."""
        with self._lock:
            threads = self._threads
        for _ in range(threads):
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                if job is None:
                    self._threads -= 1
                    return
            loop, future, function, arguments = job
            if future.cancelled():  # given up on while it waited for a thread
                continue
            try:
                result: tuple[bool, Any] = (True, function(**arguments))
            except BaseException as exc:
                result = (False, exc)
            try:
                loop.call_soon_threadsafe(_settle, future, *result)
            except RuntimeError:
                pass  # the loop is gone: the session ended, the result is discarded


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if not future.done():
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class ToolRunner:
    """Runs tool calls for one session (see the module docstring)."""

    def __init__(self, *, threads: int = DEFAULT_THREADS) -> None:
        self._pool = _ThreadPool(threads)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._detached: set[asyncio.Task[Any]] = set()
        self.abandoned = 0
        """Calls given up on while their tool still ran: a sync tool past its time-out
        (its thread cannot be stopped), or an async one still running at :meth:`stop`."""

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        """The async tools running now."""
        return set(self._tasks)

    async def run(self, tool: Tool, arguments: str) -> ToolResult:
        """Run ``tool`` with the model's JSON ``arguments``; never raises (but cancellation).

        Cancelling the caller cancels the tool, unless it was :meth:`detach`-ed.
        """
        try:
            parsed = tool.arguments.model_validate_json(arguments or "{}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            return failure(f"Invalid arguments for {tool.name}: {problems}")
        values = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        work: asyncio.Future[Any]
        if tool.is_async:
            task = asyncio.get_running_loop().create_task(
                tool.function(**values), name=f"realtime-tool-{tool.name}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._finished)
            work = task
        else:
            work = self._pool.submit(tool.function, values)
        try:
            done, _ = await asyncio.wait({work}, timeout=tool.timeout)
        except asyncio.CancelledError:
            if work not in self._detached:
                work.cancel()
            raise
        if not done:
            work.cancel()
            if not tool.is_async:
                self.abandoned += 1
            return failure(f"{tool.name} timed out after {tool.timeout:g} s")
        if work.cancelled():
            return failure(f"{tool.name} was cancelled")
        error = work.exception()
        if isinstance(error, Exception):
            return failure(f"{tool.name} failed: {type(error).__name__}: {error}")
        if error is not None:  # SystemExit, KeyboardInterrupt...: not the model's business
            raise error
        return _output(tool, work.result())

    def detach(self, task: asyncio.Task[Any]) -> bool:
        """Let this tool's task run on when its call is cancelled; True if it is a tool's.

        For a tool that ends the session itself (a "hang up" tool calls ``close()``):
        the close must not cancel, nor wait for, the task that asked for it.
        """
        if task in self._tasks:
            self._detached.add(task)
            return True
        return False

    def cancel(self) -> list[asyncio.Task[Any]]:
        """Cancel every running async tool (not the detached); the tasks to wait for."""
        waiting = []
        for task in self._tasks:
            if task not in self._detached:
                task.cancel()
                waiting.append(task)
        return waiting

    def stop(self, still_running: int = 0) -> None:
        """No more calls: free the threads; ``still_running`` tasks were given up on."""
        self.abandoned += still_running
        self._pool.shutdown()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._detached.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned tool's error is not "never retrieved"


async def run_call(tool: Tool, arguments: str) -> ToolResult:
    """Run one call outside a session (see :class:`ToolRunner`; a runner of one thread)."""
    runner = ToolRunner(threads=1)
    try:
        return await runner.run(tool, arguments)
    finally:
        runner.stop()
