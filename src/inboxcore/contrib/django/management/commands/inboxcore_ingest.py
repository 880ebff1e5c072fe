"""``manage.py inboxcore_ingest PATH...``: ``inboxcore ingest`` into the site's inbox
(:func:`~inboxcore.contrib.django.conf.get_inbox`): the same options (but the DNS ones: the
site's ``INBOXCORE["DNS"]`` holds), output and exit status."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inboxcore.app.service import InboxService
from inboxcore.cli._ingest import add_ingest_arguments, run_ingest
from inboxcore.contrib.django.conf import get_inbox, inbox_settings
from inboxcore.domain.ids import AccountId
from inboxcore.domain.model import Channel
from inboxcore.ports import Clock

__all__ = ["Command", "SiteInbox"]


class SiteInbox:
    """The site's inbox as ``ingest`` delivers to it: the service and the account's channels."""

    def __init__(self, service: InboxService, account_id: str) -> None:
        self.service = service
        self.clock: Clock = service.clock
        self._account_id = AccountId(account_id)

    def channels(self) -> tuple[Channel, ...]:
        with self.service.storage.unit_of_work() as uow:
            return uow.channels.for_account(self._account_id)


class Command(BaseCommand):  # type: ignore[misc]  # django ships no types
    help = "Feed stored mail (files, folders, mbox, Maildir) into the site's inbox."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_ingest_arguments(parser, dns=False)

    def handle(self, *args: Any, **options: Any) -> None:
        # The CLI writes its lines in pieces: no newline added to each write.
        self.stdout.ending = self.stderr.ending = ""
        target = SiteInbox(get_inbox(), inbox_settings().account_id)
        status = run_ingest(argparse.Namespace(**options), self.stdout, self.stderr, target=target)
        if status:
            raise CommandError("some messages were not recorded", returncode=status)
