"""``manage.py inboxcore_recover``: ``inboxcore recover`` on the site's inbox
(:func:`~inboxcore.contrib.django.conf.get_inbox`): the same options, output and exit status."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inboxcore.cli._recover import add_recover_arguments, run_recover
from inboxcore.contrib.django.conf import get_inbox

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc]  # django ships no types
    help = "Run the messages that were stored but never recorded (see inboxcore recover)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_recover_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        # The CLI writes its lines in pieces: no newline added to each write.
        self.stdout.ending = self.stderr.ending = ""
        status = run_recover(
            argparse.Namespace(**options), self.stdout, self.stderr, service=get_inbox()
        )
        if status:
            raise CommandError("some messages could not be recorded", returncode=status)
