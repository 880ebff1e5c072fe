"""The ``inboxcore`` command: one module per command, :mod:`~inboxcore.cli.main` parses."""

from inboxcore.cli.main import main

__all__ = ["main"]
