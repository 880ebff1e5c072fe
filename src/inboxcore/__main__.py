"""``python -m inboxcore``: the same as the ``inboxcore`` command."""

import sys

from inboxcore.cli._main import main

__all__: list[str] = []

sys.exit(main())
