"""The shape a newcomer can read: small modules, short functions, one table of SMTP replies.

Measured with :mod:`ast` on ``src/inboxcore``. A function counts from its ``def`` line to its last
line, docstring included. The few functions allowed to be longer are tables (one literal of
data or one schema), listed below with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import inboxcore

ROOT = Path(inboxcore.__file__).parent
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 800

TABLES = {
    ("adapters/sql/migrations.py", "_v1_initial"): "the first schema: one table definition each",
}
"""(module, function) allowed over the limit, and why."""


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_module_is_longer_than_800_lines() -> None:
    long = {
        _name(p): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_longer_than_60_lines_but_the_tables() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and (_name(path), node.name) not in TABLES:
                    long[f"{_name(path)}:{node.name}"] = lines
    assert long == {}


def test_the_tables_allowed_to_be_long_still_exist() -> None:
    """An entry for a function that was split or removed goes too."""
    found = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.add((_name(path), node.name))
    assert set(TABLES) <= found


def test_smtp_replies_come_from_one_table() -> None:
    """Every SmtpReply is a member of ``inboxcore.domain.outcomes.Reply``: no module builds one,
    and no module writes a reply line (``"550 5.1.1 ..."``) by hand."""
    offences = []
    for path in _modules():
        if _name(path) == "domain/outcomes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SmtpReply":
                offences.append(f"{_name(path)}:{node.lineno} builds an SmtpReply")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if len(text) > 10 and text[:3].isdigit() and text[3] == " " and text[5] == ".":
                    offences.append(f"{_name(path)}:{node.lineno} writes {text!r}")
    assert offences == []
