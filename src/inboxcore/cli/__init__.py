"""The ``inboxcore`` command (``docs/cli.md``): one private module per command, ``_main`` parses.

The command's modules are its implementation, not a Python API, and may change in any release.
Two things are meant to be called from Python: :func:`main` (the console script) and
:mod:`inboxcore.cli.inspect` (``inspect_message`` and ``report``: what ``inboxcore inspect`` does,
on bytes).
"""

from inboxcore.cli._main import main

__all__ = ["main"]
