"""``manage.py inboxcore_serve --lmtp HOST:PORT``: ``inboxcore serve`` into the site's inbox
(:func:`~inboxcore.contrib.django.conf.get_inbox`): the same options (but the DNS ones: the
site's ``INBOXCORE["DNS"]`` holds), log lines and exit status. Intake runs in the receiver's
worker threads, never on its event loop, so the Django ORM may be used there."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inboxcore.cli._serve import add_serve_arguments, run_serve
from inboxcore.contrib.django.conf import get_inbox

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc]  # django ships no types
    help = "Receive mail over LMTP/SMTP into the site's inbox (see inboxcore serve)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_serve_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.ending = ""  # the CLI writes whole lines
        status = run_serve(argparse.Namespace(**options), self.stderr, service=get_inbox())
        if status:
            raise CommandError("inboxcore_serve failed", returncode=status)
