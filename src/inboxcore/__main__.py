"""``python -m inboxcore``: the same as the ``inboxcore`` command."""

import sys

from inboxcore.cli.main import main

__all__: list[str] = []

sys.exit(main())
