"""Keeping keys out of sight: a ``Secret`` that never shows itself, and redacting loggers.

websockets logs every handshake header at DEBUG, request and response alike, and every
frame; a hostile server can echo the key back in any of them, or in an error. The
loggers made by :func:`redacting_logger` hide, in every record they log:

* the values of the headers that carry keys (``Authorization``, ``api-key``,
  ``Sec-WebSocket-Protocol``), whatever their value;
* every occurrence of the values of the ``secrets`` they were given (``Bearer <key>``
  included), in the message, its arguments, the traceback and the stack, and any piece
  of four characters or more of a key that meets an elision (``...``: websockets logs
  a long frame as its start and its end).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, NoReturn, SupportsIndex

__all__ = ["Secret", "redacting_logger"]


class Secret:
    """A key that never shows itself: ``repr`` and ``str`` say ``'***'``.

    It is never serialised: pickling one (or anything that holds one, such as an
    ``Endpoint``) raises ``TypeError``. ``copy.copy`` and ``copy.deepcopy`` return the
    same object, as for any immutable value.
    """

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

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        # A pickle is a copy of the key on disk or on the wire, out of sight of this class.
        raise TypeError("a Secret is never serialised: pass the key to each process anew")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


_SECRET_HEADERS = frozenset({"authorization", "api-key", "sec-websocket-protocol"})
_HIDDEN = "***"
_ELISION = "..."
_MIN_PIECE = 4
# The record attribute by which an adapter hands its secrets to the shared filter; the
# filter takes it off the record before any handler sees it.
_SECRETS = "_realtime_agent_secrets"


def redacting_logger(
    name: str, *, secrets: Iterable[Secret | None] = ()
) -> logging.LoggerAdapter[logging.Logger]:
    """A logger for websockets (its ``logger=``) that hides keys (see the module docstring).

    Make one per connection with that connection's key in ``secrets`` (``None`` and
    empty keys are skipped, so ``secrets=(endpoint.key,)`` is fine). What it costs stays
    bounded however many are made: the named logger gets one filter, once, shared by
    all; each adapter holds only its own secrets and lives as long as its connection.
    Records logged straight to the named logger have their key headers hidden, but not
    the values of any secret.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Redact) for f in logger.filters):
        logger.addFilter(_Redact())
    return _RedactingAdapter(logger, tuple(s for s in secrets if s is not None and s.reveal()))


class _RedactingAdapter(logging.LoggerAdapter[logging.Logger]):
    """Hands its secrets to the shared filter with each record, keeping the caller's
    ``extra`` (websockets wraps this adapter in its own, which adds the connection)."""

    def __init__(self, logger: logging.Logger, secrets: tuple[Secret, ...]) -> None:
        super().__init__(logger, None)
        self._secrets = secrets

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        if self._secrets:
            kwargs["extra"] = {**(kwargs.get("extra") or {}), _SECRETS: self._secrets}
        return msg, kwargs


class _Redact(logging.Filter):
    """Hides key headers by name, and the secrets a record carries by value."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and str(record.msg).endswith("%s: %s")
            and str(args[0]).lower() in _SECRET_HEADERS
        ):
            record.args = (args[0], _HIDDEN)
        secrets: tuple[Secret, ...] = record.__dict__.pop(_SECRETS, ())
        if secrets:
            _scrub(record, tuple(secret.reveal() for secret in secrets))
        return True


def _scrub(record: logging.LogRecord, values: tuple[str, ...]) -> None:
    """Hide ``values`` everywhere in ``record``; a record that shows none is left as it is."""

    def hide(item: object) -> object:
        return _hide(item, values) if isinstance(item, str) else item

    record.msg = hide(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(map(hide, record.args))
    elif isinstance(record.args, Mapping):
        record.args = {key: hide(value) for key, value in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the message: the handler reports it
        pass
    else:
        hidden = _hide(message, values)
        if hidden != message:  # an argument's str() showed a key: keep only the result
            record.msg, record.args = hidden, ()
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        hidden = _hide(text, values)
        if hidden != text:  # formatters print exc_text when set; drop what would show more
            record.exc_info, record.exc_text = None, hidden
    if record.stack_info:
        record.stack_info = _hide(record.stack_info, values)


def _hide(text: str, values: tuple[str, ...]) -> str:
    for value in values:
        text = text.replace(f"Bearer {value}", _HIDDEN).replace(value, _HIDDEN)
        if _ELISION in text:
            parts = text.split(_ELISION)
            for i in range(len(parts)):
                if i < len(parts) - 1:
                    parts[i] = _cut_start_of(value, parts[i])
                if i > 0:
                    parts[i] = _cut_end_of(value, parts[i])
            text = _ELISION.join(parts)
    return text


def _cut_start_of(value: str, part: str) -> str:
    """``part`` with a beginning of ``value`` at its end hidden (it meets an elision)."""
    for size in range(min(len(value) - 1, len(part)), _MIN_PIECE - 1, -1):
        if part.endswith(value[:size]):
            return part[:-size] + _HIDDEN
    return part


def _cut_end_of(value: str, part: str) -> str:
    """``part`` with an end of ``value`` at its start hidden (it follows an elision)."""
    for size in range(min(len(value) - 1, len(part)), _MIN_PIECE - 1, -1):
        if part.startswith(value[-size:]):
            return _HIDDEN + part[size:]
    return part
