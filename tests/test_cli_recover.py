"""``inboxcore ingest`` reports what was not stored, and ``inboxcore recover`` runs it later."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inboxcore.app.service import InboxService
from inboxcore.cli import _ingest as ingest_command
from inboxcore.cli import _recover as recover_command
from inboxcore.cli._inbox import Inbox, open_inbox
from inboxcore.testing import FlakyStorage
from tests.test_cli import KLAUS, MARIA, _run
from tests.test_cli import db as db  # the inbox fixture of tests/test_cli.py


def _failing(
    monkeypatch: pytest.MonkeyPatch, module: Any, schedule: Callable[[FlakyStorage[Any]], None]
) -> None:
    """Make ``module``'s inbox run on a storage that fails as ``schedule`` says."""

    def opener(path: Any, **kw: Any) -> Inbox:
        inbox = open_inbox(path, **kw)
        flaky = FlakyStorage(inbox.storage)
        schedule(flaky)
        inbox.service = InboxService(
            storage=flaky,
            raw_store=inbox.raw_store,
            clock=inbox.clock,
            ids=inbox.ids,
            directory=inbox.directory,
            events=inbox.service.events,
            config=inbox.service.config,
        )
        return inbox

    monkeypatch.setattr(module, "open_inbox", opener)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_ingest_says_which_messages_were_not_stored_and_fails(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused commit: the message is named on stderr, counted deferred, and the exit is 1."""
    (tmp_path / "1.eml").write_bytes(MARIA)
    (tmp_path / "2.eml").write_bytes(KLAUS)
    _failing(monkeypatch, ingest_command, lambda flaky: flaky.fail_next_commits())
    code, out, err = _run(capsys, "--db", db, "ingest", "--offline", tmp_path)
    assert code == 1
    assert "1.eml not stored (451 4.3.0 Temporary failure, try again later)" in err
    assert "  deferred          1" in out
    assert "1 not stored: nothing was recorded for them" in out
    monkeypatch.undo()
    code, out, _ = _run(capsys, "--db", db, "ingest", "--offline", "--json", tmp_path)
    assert code == 0
    summary = _lines(out)[-1]
    assert (summary["accepted"], summary["duplicate"], summary["deferred"]) == (1, 1, 0)


def test_recover_runs_what_was_stored_but_never_recorded(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a 451 nobody retried: a dry run lists it, recover runs it once, then finds none."""
    (tmp_path / "1.eml").write_bytes(MARIA)
    _failing(monkeypatch, ingest_command, lambda flaky: flaky.fail_next_commits())
    assert _run(capsys, "--db", db, "ingest", "--offline", tmp_path)[0] == 1
    monkeypatch.undo()
    code, out, _ = _run(capsys, "--db", db, "recover")
    assert (code, out) == (0, "Nothing to recover: 0 stored messages, all recorded.\n")
    code, out, _ = _run(capsys, "--db", db, "recover", "--older-than", "0", "--dry-run")
    assert code == 0
    assert "would run    unrecorded" in out
    assert "1 of 1 stored message had no record (dry run: nothing was run)." in out
    code, out, _ = _run(capsys, "--db", db, "recover", "--older-than", "0", "--json")
    assert code == 0
    message, summary = _lines(out)
    assert message["disposition"] == "accepted"
    assert [r["code"] for r in message["reasons"]] == ["unrecorded"]
    assert message["conversation_id"] is not None
    assert summary == {
        "record": "summary",
        "examined": 1,
        "unrecorded": 1,
        "outcomes": {"accepted": 1},
        "still_unrecorded": 0,
        "complete": True,
        "dry_run": False,
    }
    code, out, _ = _run(capsys, "--db", db, "recover", "--older-than", "0", "--all")
    assert (code, out) == (0, "Nothing to recover: 1 stored message, all recorded.\n")
    _code, out, _ = _run(capsys, "--db", db, "conversations", "--json")
    assert [r["contact_email"] for r in _lines(out)] == ["maria.lopez@riverside-bakery.example"]


def test_recover_fails_while_storage_still_fails(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage still refusing: the message is reported not recorded and the exit is 1 (cron)."""
    (tmp_path / "1.eml").write_bytes(MARIA)
    _failing(monkeypatch, ingest_command, lambda flaky: flaky.fail_next_commits())
    _run(capsys, "--db", db, "ingest", "--offline", tmp_path)
    _failing(monkeypatch, recover_command, lambda flaky: flaky.fail_next_commits())
    code, out, _ = _run(capsys, "--db", db, "recover", "--older-than", "0")
    assert code == 1
    assert "deferred     unrecorded, storage_unavailable" in out
    assert "1 could not be recorded (storage failing): run recover again later." in out


def test_recover_limit_and_bad_flags(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--limit stops a run with a note; --days and --all exclude each other; bad counts fail."""
    (tmp_path / "1.eml").write_bytes(MARIA)
    (tmp_path / "2.eml").write_bytes(KLAUS)
    _failing(monkeypatch, ingest_command, lambda flaky: flaky.fail_next_commits(2))
    _run(capsys, "--db", db, "ingest", "--offline", tmp_path)
    monkeypatch.undo()
    code, out, _ = _run(capsys, "--db", db, "recover", "--older-than", "0", "--limit", "1")
    assert code == 0
    assert "Stopped at the limit of 1: run recover again for the rest." in out
    code, out, _ = _run(capsys, "--db", db, "recover", "--older-than", "0", "--days", "1")
    assert "1 of 2 stored messages had no record." in out
    for bad in (["--limit", "0"], ["--older-than", "-1"], ["--days", "2", "--all"]):
        with pytest.raises(SystemExit) as exited:
            _run(capsys, "--db", db, "recover", *bad)
        assert exited.value.code == 2
