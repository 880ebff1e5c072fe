"""docs/cli.md documents every subcommand and option that argparse knows."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from inboxcore.cli._main import build_parser

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _sections() -> dict[str, str]:
    """The reference's level-2 sections by title."""
    text = CLI_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help" and action.help != argparse.SUPPRESS
    ]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the inboxcore parser has no subcommands")


def test_every_subcommand_has_a_section() -> None:
    """Each subcommand has its own '## `inboxcore NAME`' section."""
    sections = _sections()
    missing = [name for name in _subcommands() if f"`inboxcore {name}`" not in sections]
    assert missing == []


def test_every_option_is_documented_in_its_subcommands_section() -> None:
    """Every long option of every subcommand appears (in backquotes) in that command's section."""
    sections = _sections()
    missing = []
    for name, sub in _subcommands().items():
        body = sections.get(f"`inboxcore {name}`", "")
        missing += [f"{name} {o}" for o in _options(sub) if f"`{o}" not in body]
    assert missing == []


def test_global_options_are_documented() -> None:
    """--db and --version are in the global options section."""
    body = _sections()["Global options"]
    assert [o for o in _options(build_parser()) if f"`{o}" not in body] == []


def test_the_check_would_catch_a_missing_option() -> None:
    """An option added to argparse but not to the docs is reported (the check is not vacuous)."""
    sub = _subcommands()["tickets"]
    sub.add_argument("--undocumented-flag")
    body = _sections()["`inboxcore tickets`"]
    assert [o for o in _options(sub) if f"`{o}" not in body] == ["--undocumented-flag"]
