"""The HTTP client's tests. The pure modules' (the SSE parser, the chunk reader, the WAV
writer) run everywhere; those that talk HTTP need httpx2 (the ``http`` extra) and the
web extra for the local stack: without them (CI's wheel run) they are not collected."""

from __future__ import annotations

import importlib.util


def _missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # ValueError: blocked (None in sys.modules)
        return True


if any(map(_missing, ("httpx2", "starlette", "uvicorn"))):
    collect_ignore = ["test_client.py", "test_routes.py", "test_cli_chat_audio.py"]
