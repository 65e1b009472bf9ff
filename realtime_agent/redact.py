"""Keeping keys out of sight: a ``Secret`` that never shows itself, and a log filter.

websockets logs every handshake header at DEBUG, ``Authorization`` included; the
loggers made by :func:`redacting_logger` show those headers with their values hidden.
"""

from __future__ import annotations

import logging

__all__ = ["Secret", "redacting_logger"]


class Secret:
    """A key that never shows itself: ``repr`` and ``str`` say ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_SECRET_HEADERS = frozenset({"authorization", "api-key", "sec-websocket-protocol"})


class _RedactKeys(logging.Filter):
    """websockets logs every handshake header at DEBUG: never the ones that carry keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and str(record.msg).endswith("%s: %s")
            and str(args[0]).lower() in _SECRET_HEADERS
        ):
            record.args = (args[0], "***")
        return True


def redacting_logger(name: str) -> logging.Logger:
    """A logger for websockets that shows handshake headers with their keys hidden."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _RedactKeys) for f in logger.filters):
        logger.addFilter(_RedactKeys())
    return logger
