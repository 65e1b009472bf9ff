"""The README's runtime example runs as written (docs that drift are bugs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_runtime_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    runnable = [b for b in blocks if "asyncio.run(main())" in b]
    assert len(runnable) == 1
    script = tmp_path / "example.py"
    script.write_text(runnable[0], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "get_weather -> Sunny in Paris",
        "assistant: It is sunny in Paris.",
    ]
