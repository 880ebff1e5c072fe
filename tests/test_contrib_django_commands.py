"""The management commands: the CLI's behaviour and output on the site's inbox."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

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


SERVE = """
import sys
from tests.django_support import setup_django
setup_django()
from django.conf import settings
from django.core.management import call_command
settings.INBOXCORE = {settings!r}
call_command("inboxcore_serve", "--lmtp", "127.0.0.1:0", "--workers", "1")
"""


def test_serve_receives_over_lmtp_on_the_site_inbox_and_stops_on_sigterm() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = SERVE.replace("{settings!r}", repr(SETTINGS))
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": f"{root / 'src'}:{root}", "PATH": "/usr/bin:/bin"},
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            _deliver_then_stop(process)
        finally:
            if process.poll() is None:
                process.kill()


def _deliver_then_stop(process: Any) -> None:
    import signal
    import smtplib

    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("listening lmtp 127.0.0.1 "), line
    port = int(line.split()[-1])
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as lmtp:
        lmtp.ehlo("relay.example")
        lmtp.mail("ada@customer.example")
        # The RCPT check reads the site's channels through the ORM: 550 for an unknown
        # address, not a 451 from an ORM call on the event loop.
        code_, reply = lmtp.rcpt("nobody@acme.example")
        assert code_ == 550, reply
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 0
    assert rest.endswith("stopped\n")


def test_ingest_records_files_in_the_site_inbox_like_the_cli(tmp_path: Any) -> None:
    import json

    setup_django()
    from django.core.management import call_command
    from django.test import override_settings

    from inboxcore.contrib.django.conf import get_inbox, reset_inbox

    empty_tables("default")
    reset_inbox()
    (tmp_path / "one.eml").write_bytes(MESSAGE)
    out = io.StringIO()
    with override_settings(INBOXCORE=SETTINGS):
        # No channel receives at this address: rejected as the CLI reports it, nothing recorded.
        call_command(
            "inboxcore_ingest",
            str(tmp_path / "one.eml"),
            "--recipient",
            "help@acme.example",
            "--json",
            stdout=out,
        )
        assert get_inbox().storage.intake_records() == ()  # type: ignore[attr-defined]
    reset_inbox()
    *messages, summary = (json.loads(line) for line in out.getvalue().splitlines())
    assert len(messages) == 1
    assert summary["record"] == "summary"
    assert messages[0]["disposition"] == "rejected"
    assert summary["rejected"] == 1
