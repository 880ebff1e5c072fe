"""The ``inboxcore`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from inboxcore import __version__
from inboxcore.cli_serve import add_serve_command, run_serve
from inboxcore.inspect_cli import add_inspect_arguments, run_inspect

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inboxcore",
        description="The domain core of a helpdesk's hosted email inbox channel.",
    )
    parser.add_argument("--version", action="version", version=f"inboxcore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect",
        help="run intake on message files and explain each verdict",
        description="Run intake on message files with in-memory adapters and explain each verdict.",
    )
    add_inspect_arguments(inspect)
    add_serve_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "inspect":
        return run_inspect(args)
    if args.command == "serve":
        return run_serve(args)
    return 2  # pragma: no cover - argparse rejects unknown commands first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
