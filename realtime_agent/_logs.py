"""The command line's logging: the package's loggers at the level asked, one line a record.

``realtime-agent -v`` (INFO), ``-vv`` (DEBUG) or ``--log-level LEVEL`` sets the level of
the ``realtime_agent`` loggers (their names are in the README's "Command line"); other
libraries' loggers (uvicorn, asyncio) stay at WARNING. The websockets library's own lines
(``realtime_agent.websockets``, ``realtime_agent.server.websockets``: each handshake and
frame, keys hidden) come only at DEBUG: at INFO they would repeat what ours say. Records
go to stderr as ``TIME LEVEL LOGGER: message``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

__all__ = ["FORMAT", "LEVELS", "configure", "level_for"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PACKAGE = "realtime_agent"
WEBSOCKETS = ("realtime_agent.websockets", "realtime_agent.server.websockets")


def level_for(verbose: int, log_level: str | None) -> int:
    """The level ``-v`` given ``verbose`` times and ``--log-level`` (which wins) ask for."""
    if log_level is not None:
        return logging.getLevelNamesMapping()[log_level.upper()]
    return (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]


def configure(level: int) -> Callable[[], None]:
    """Log the package's records from ``level`` up, and others' from WARNING, to stderr.

    A process whose root logger has handlers already (an application's, pytest's) keeps
    them and gets none added. Returns what undoes it (for :func:`realtime_agent.cli.main`
    called in a process that goes on).
    """
    root = logging.getLogger()
    handler: logging.Handler | None = None
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    loggers = [logging.getLogger(name) for name in (PACKAGE, *WEBSOCKETS)]
    previous = [logger.level for logger in loggers]
    loggers[0].setLevel(level)
    for logger in loggers[1:]:
        logger.setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))

    def undo() -> None:
        for logger, was in zip(loggers, previous, strict=True):
            logger.setLevel(was)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()

    return undo
