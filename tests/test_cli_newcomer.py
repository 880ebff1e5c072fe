"""The command line as a newcomer meets it (issue 13): each case was seen tried as a new user
would, and each gets its plain answer instead of a traceback or a silent surprise."""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from inboxcore.cli._main import main

CHANNEL = "support-7f3k@acme.inbox.example.net"


def _mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <customer{n}@shop{n}.example>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = f"Order {n} is late"
    msg["Date"] = "Tue, 04 Mar 2025 09:15:00 +0100"
    msg["Message-ID"] = f"<order-{n}@shop{n}.example>"
    msg.set_content(f"Hello, where is order {n}?\n")
    return msg.as_bytes()


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "inbox.db"
    code, _, err = _run(capsys, "init", "--db", path, "--channel-address", CHANNEL)
    assert code == 0, err
    return path


def _python_mbox(path: Path, count: int) -> Path:
    """An mbox as Python's mailbox writes it: every separator says ``From MAILER-DAEMON``."""
    box = mailbox.mbox(path)
    for n in range(count):
        box.add(mailbox.mboxMessage(_mail(n)))
    box.close()
    assert path.read_bytes().startswith(b"From MAILER-DAEMON ")
    return path


def test_the_mbox_separator_line_is_not_a_bounce(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten ordinary customer emails in a mailbox-written mbox are ten messages, not bounces."""
    box = _python_mbox(tmp_path / "support.mbox", 10)
    code, out, _ = _run(capsys, "ingest", "--db", db, "--offline", "--json", box)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    messages = [r for r in records if r["record"] == "message"]
    assert [r["disposition"] for r in messages] == ["accepted"] * 10
    assert all(r["reasons"][0]["code"] == "kind.message" for r in messages)


@pytest.mark.parametrize("command", ["conversations", "tickets", "quarantine"])
def test_db_may_follow_the_command(
    db: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``inboxcore conversations --db X`` works as ``inboxcore --db X conversations`` does."""
    before = _run(capsys, "--db", db, command)
    after = _run(capsys, command, "--db", db)
    assert before[0] == after[0] == 0
    assert before[1] == after[1]


def test_a_command_needing_an_extra_says_which_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without SQLAlchemy, ``demo`` names the extra to install and exits 2, no traceback."""
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # import fails as if not installed
    code, out, err = _run(capsys, "demo")
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "inboxcore demo: needs the 'sql' extra (sqlalchemy is not installed): "
        "pip install 'inboxcore[sql]'"
    ]


def test_serve_names_its_own_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The receiver needs aiosmtpd too: the 'serve' extra."""
    monkeypatch.setitem(sys.modules, "aiosmtpd", None)
    code, _, err = _run(capsys, "serve", "--lmtp", "127.0.0.1:0")
    assert code == 2
    assert "pip install 'inboxcore[serve]'" in err


def _cli(*argv: str | Path) -> list[str]:
    return [sys.executable, "-m", "inboxcore", *map(str, argv)]


def test_output_piped_into_head_neither_aborts_nor_prints_a_traceback(
    db: Path, tmp_path: Path
) -> None:
    """``ingest --json x.mbox | head -1``: every message is still ingested; no traceback."""
    box = _python_mbox(tmp_path / "many.mbox", 40)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        _cli("ingest", "--db", db, "--offline", "--json", box),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as reader:
        assert reader.stdout is not None
        assert reader.stderr is not None
        first = reader.stdout.readline()
        reader.stdout.close()  # what head does after its line
        err = reader.stderr.read()
        assert reader.wait(timeout=120) == 0
    assert json.loads(first)["record"] == "message"
    assert b"Traceback" not in err
    assert b"BrokenPipe" not in err
    listed = subprocess.run(
        _cli("conversations", "--db", db, "--json"), capture_output=True, check=True
    )
    assert len(listed.stdout.splitlines()) == 40


def test_a_listing_piped_into_head_exits_quietly(db: Path, tmp_path: Path) -> None:
    """``conversations | head -1`` on a long list: exit 0, nothing on stderr."""
    box = _python_mbox(tmp_path / "few.mbox", 30)
    subprocess.run(_cli("ingest", "--db", db, "--offline", box), capture_output=True, check=True)
    with subprocess.Popen(
        _cli("conversations", "--db", db), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as lister:
        assert lister.stdout is not None
        assert lister.stderr is not None
        lister.stdout.readline()
        lister.stdout.close()
        assert lister.stderr.read() == b""
        assert lister.wait(timeout=60) == 0


def test_releasing_twice_succeeds_and_says_it_is_already_in(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second ``release`` of the same id (or its start) exits 0, as docs/cli.md says."""
    held = tmp_path / "held.eml"
    held.write_bytes(_mail(7).replace(b"customer7@shop7.example", b"x@shop7.example", 1))
    policy = tmp_path / "zone.json"
    policy.write_text(json.dumps({"_dmarc.shop7.example": {"TXT": ["v=DMARC1; p=reject"]}}))
    _run(capsys, "ingest", "--db", db, "--dns-zone", policy, held)
    code, out, _ = _run(capsys, "quarantine", "--db", db, "--json")
    raw_id = json.loads(out)["raw_id"]
    code, out, err = _run(capsys, "release", "--db", db, raw_id[:10])
    assert code == 0, err
    assert out.startswith(f"{raw_id[:12]}: accepted -> ")
    code, out, err = _run(capsys, "release", "--db", db, raw_id[:10])
    assert code == 0, err
    assert out == f"{raw_id[:12]}: already in the inbox; nothing to release\n"


def test_discard_drops_a_held_message_on_record(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not mail is held with a reason the summary states; ``discard`` drops it,
    and the quarantine is empty afterwards; a second discard says it is not held."""
    junk = tmp_path / "notes.eml"
    junk.write_bytes(b"")
    code, out, err = _run(capsys, "ingest", "--db", db, "--offline", junk)
    assert code == 0
    assert "quarantined 1 not_mail" in [" ".join(line.split()) for line in out.splitlines()]
    assert "1 held back for review" in out
    assert "is not an email" in err
    _, listing, _ = _run(capsys, "quarantine", "--db", db, "--json")
    raw_id = json.loads(listing)["raw_id"]
    code, out, _ = _run(capsys, "discard", "--db", db, raw_id[:12], "--note", "empty file")
    assert (code, out.split(":")[1].strip()) == (0, "discarded (the raw message stays stored)")
    assert _run(capsys, "quarantine", "--db", db)[1] == "Nothing is held back.\n"
    code, _, err = _run(capsys, "discard", "--db", db, raw_id[:12])
    assert code == 1
    assert "no held message" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["conversations", "--limit", "abc"],
            "argument --limit: expected a whole number, got 'abc'",
        ),
        (["tickets", "--limit", "0"], "argument --limit: must be at least 1, got 0"),
        (
            ["inspect", "--client-ip", "999.1.1.1", "x.eml"],
            "argument --client-ip: not an IP address: '999.1.1.1'",
        ),
        (
            ["inspect", "--mail-from", "not an addr", "x.eml"],
            "argument --mail-from: not an email address: 'not an addr'",
        ),
        (
            ["ingest", "--recipient", "nobody", "x.eml"],
            "argument --recipient: not an email address: 'nobody'",
        ),
    ],
)
def test_bad_flag_values_get_a_plain_message_naming_the_flag(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse's 'invalid _limit value' becomes a sentence about the flag, exit 2."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(expected)


def test_init_names_the_flag_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --channel-address or --agent is named by its flag, once."""
    code, _, err = _run(capsys, "init", "--db", tmp_path / "x.db", "--channel-address", "bad")
    assert code == 2
    assert err.splitlines()[1] == (
        "  - --channel-address: not a usable email address (no addr-spec): 'bad' (config.invalid)"
    )
    code, _, err = _run(
        capsys,
        "init",
        "--db",
        tmp_path / "x.db",
        "--channel-address",
        CHANNEL,
        "--agent",
        "X <bad>",
    )
    assert code == 2
    assert err.splitlines()[1].startswith("  - --agent: ")


def test_a_db_that_is_not_an_inbox_is_said_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--db README.md``: one sentence about the file, no database library internals."""
    readme = tmp_path / "README.md"
    readme.write_text("# a readme\n", encoding="utf-8")
    code, _, err = _run(capsys, "conversations", "--db", readme)
    assert code == 1
    assert err == (
        f"inboxcore conversations: {readme} is not an inbox: it is not an SQLite database "
        "(give --db the file `inboxcore init` created)\n"
    )
