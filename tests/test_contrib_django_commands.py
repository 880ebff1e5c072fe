"""The management commands: the CLI's behaviour and output on the site's inbox."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from inboxcore.domain.model import Envelope
from tests.django_support import empty_tables, setup_django

SETTINGS = {
    "CONVERSATION_KEYS": ["a conversation key for tests"],
    "MESSAGE_ID_DOMAIN": "inbox.example.net",
    "DNS": "offline",
}
MESSAGE = b"From: ada@customer.example\r\nTo: help@acme.example\r\nSubject: hi\r\n\r\nHello\r\n"


def recover(*args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("inboxcore_recover", *args, stdout=out)
    return out.getvalue()


def test_recover_lists_then_finds_nothing_like_the_cli() -> None:
    setup_django()
    from django.test import override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox

    empty_tables("default")
    reset_inbox()
    with override_settings(INBOXCORE=SETTINGS):
        assert recover() == "Nothing to recover: 0 stored messages, all recorded.\n"
        received = datetime.now(UTC) - timedelta(hours=1)
        get_inbox().raw_store.put(
            MESSAGE, Envelope(received_at=received, rcpt_to=("help@acme.example",))
        )
        out = recover("--older-than", "0", "--dry-run", "--limit", "5")
        assert "would run    unrecorded" in out
        assert out.endswith("1 of 1 stored message had no record (dry run: nothing was run).\n")
    reset_inbox()


def test_recover_usage_errors_are_command_errors() -> None:
    setup_django()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        recover("--limit", "0")
