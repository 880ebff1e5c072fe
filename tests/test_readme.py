"""The README's example runs as written and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_prints_what_it_promises() -> None:
    """The Python block of the README receives a message and shows the conversation it made."""
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(README), "exec"), {})
    promised = [line.split("# ", 1)[1] for line in block.splitlines() if line.startswith("print(")]
    assert out.getvalue().splitlines() == promised


def test_readme_gives_the_two_fresh_machine_commands() -> None:
    """One line runs the main job, one runs the tests: the very line .ci/run calls."""
    text = README.read_text(encoding="utf-8")
    test_line = "python -m pip install -e '.[test]' && python -m pytest"
    assert f"    {test_line}\n" in text
    assert "    python -m pip install -e '.[sql]' && inboxcore demo\n" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test_line in ci
