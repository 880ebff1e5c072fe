"""The ``inboxcore`` command on a temporary SQLite inbox, through ``main([...])``."""

from __future__ import annotations

import contextlib
import io
import json
import mailbox
import os
import shutil
import stat
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from inboxcore.cli._inbox import open_inbox
from inboxcore.cli._main import main
from inboxcore.domain.model import RoutingMode

CHANNEL = "support-7f3k@acme.inbox.example.net"


def _mail(
    sender: str,
    subject: str,
    message_id: str,
    body: str = "Hello, could you help me with my order?\n",
    *,
    in_reply_to: str | None = None,
    return_path: str | None = None,
) -> bytes:
    msg = EmailMessage()
    if return_path is not None:
        msg["Return-Path"] = return_path
    msg["From"] = sender
    msg["To"] = "Acme Support <support@acme.example>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 04 Mar 2025 09:15:00 +0100"
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    msg.set_content(body)
    return msg.as_bytes()


MARIA = _mail(
    "Maria Lopez <maria.lopez@riverside-bakery.example>",
    "Invoice INV-20417 charged twice",
    "a1@riverside-bakery.example",
)
MARIA_REPLY = _mail(
    "Maria Lopez <maria.lopez@riverside-bakery.example>",
    "Re: Invoice INV-20417 charged twice",
    "a2@riverside-bakery.example",
    "The second charge has the reference ACME*SUB-88213.\n",
    in_reply_to="a1@riverside-bakery.example",
)
KLAUS = _mail(
    "Klaus Becker <k.becker@becker-metallbau.example>",
    "Lieferung Bestellung 58113 fehlt",
    "b1@becker-metallbau.example",
    "Guten Tag, unsere Bestellung ist nicht angekommen.\n",
)
TUNDE = _mail(
    "Tunde Okafor <t.okafor@lagos-print.example>",
    "Print profile for the new label stock?",
    "c1@lagos-print.example",
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An inbox made from flags: two agents in turn, a team mailbox, tickets on."""
    path = tmp_path / "inbox.db"
    code, _, err = _run(
        capsys,
        "--db", path, "init",
        "--account", "Acme",
        "--agent", "Anna Berg <anna.berg@acme.example>",
        "--agent", "Jonas Weber <jonas.weber@acme.example>",
        "--channel-address", CHANNEL,
        "--team-address", "support@acme.example",
        "--routing", "users_and_teams",
        "--ticket-priority", "normal",
    )  # fmt: skip
    assert code == 0, err
    return path


def _ingest(capsys: pytest.CaptureFixture[str], db: Path, *paths: Path) -> dict[str, Any]:
    code, out, err = _run(capsys, "--db", db, "ingest", "--offline", "--json", *paths)
    assert code == 0, err
    lines = _json_lines(out)
    assert lines[-1]["record"] == "summary"
    return lines[-1]


# --- init --------------------------------------------------------------------------------------


def test_init_from_flags_stores_account_agents_channel_and_secret_settings(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """init writes the account, agents and a connected channel, and keys only the owner can read."""
    with open_inbox(db) as inbox:
        (channel,) = inbox.channels()
        assert channel.forwarding_address.address == CHANNEL
        assert [a.address for a in channel.mailbox_addresses] == ["support@acme.example"]
        assert channel.routing.mode is RoutingMode.USERS_AND_TEAMS
        assert len(channel.routing.user_ids) == 2
        assert channel.tickets.enabled
        assert channel.tickets.template.priority == "normal"
        assert channel.state.value == "connected"
        assert [u.full_name for u in inbox.settings.users] == ["Anna Berg", "Jonas Weber"]
        assert inbox.settings.message_id_domain == "acme.inbox.example.net"
        (key,) = inbox.settings.conversation_keys
        assert len(key) == 32
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_each_inbox_gets_its_own_conversation_key(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keys come from secrets at init: two inboxes never share one."""
    other = tmp_path / "other.db"
    assert _run(capsys, "--db", other, "init", "--channel-address", "x@in.example")[0] == 0
    with open_inbox(db) as a, open_inbox(other) as b:
        assert a.settings.conversation_keys != b.settings.conversation_keys


def test_init_prints_the_forwarding_address_and_next_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The init report names the address to forward to and the commands to run next."""
    code, out, _ = _run(
        capsys, "--db", tmp_path / "i.db", "init", "--channel-address", CHANNEL, "--no-tickets"
    )
    assert code == 0
    assert f"receives at {CHANNEL}" in out
    assert "tickets off" in out
    assert "ingest PATH" in out


TOML = """
message_id_domain = "mail.acme.example"

[account]
name = "Acme GmbH"
sending_domains = ["acme.example"]

[[agents]]
name = "Anna Berg"
email = "anna.berg@acme.example"

[[agents]]
name = "Jonas Weber"
email = "jonas.weber@acme.example"
available = false

[[teams]]
name = "Tier 1"
members = ["anna.berg@acme.example", "jonas.weber@acme.example"]

[[channels]]
address = "support-7f3k@acme.inbox.example.net"
name = "Support"
company_name = "Acme Support"
team_addresses = ["support@acme.example"]
trusted_forwarders = ["google.com"]
max_message_size = 10485760

[channels.routing]
mode = "contact_owner"
fallback = "users_and_teams"
teams = ["Tier 1"]

[channels.tickets]
enabled = true
pipeline = "customer-care"
priority = "high"

[[contacts]]
email = "maria.lopez@riverside-bakery.example"
name = "Maria Lopez"
owner = "jonas.weber@acme.example"
"""


def test_init_from_toml_reads_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TOML config sets routing to the contact's owner with a team fallback, tickets, contacts."""
    config = tmp_path / "inbox.toml"
    config.write_text(TOML, encoding="utf-8")
    db = tmp_path / "inbox.db"
    code, _, err = _run(capsys, "--db", db, "init", "--config", config)
    assert code == 0, err
    with open_inbox(db) as inbox:
        (channel,) = inbox.channels()
        assert inbox.account().name == "Acme GmbH"
        assert inbox.account().sending_domains == frozenset({"acme.example"})
        assert inbox.settings.message_id_domain == "mail.acme.example"
        assert channel.company_name == "Acme Support"
        assert channel.routing.mode is RoutingMode.CONTACT_OWNER
        assert channel.routing.fallback is RoutingMode.USERS_AND_TEAMS
        (team,) = inbox.settings.teams
        assert channel.routing.team_ids == (team.id,)
        assert len(team.member_ids) == 2
        assert channel.tickets.template.pipeline == "customer-care"
        assert channel.intake.max_message_size == 10485760
        assert channel.intake.trusted_forwarders == ("google.com",)
        jonas = inbox.directory.user_by_email(inbox.account_id, "jonas.weber@acme.example")
        assert jonas is not None
        assert not inbox.directory.is_available(jonas.id)
        with inbox.storage.unit_of_work() as uow:
            maria = uow.contacts.by_email(inbox.account_id, "maria.lopez@riverside-bakery.example")
        assert maria is not None
        assert maria.owner_id == jonas.id


def test_a_known_contacts_owner_gets_the_conversation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With contact_owner routing from TOML, the owner gets the contact's new conversation."""
    config = tmp_path / "inbox.toml"
    config.write_text(TOML.replace("available = false", "available = true"), encoding="utf-8")
    db = tmp_path / "inbox.db"
    assert _run(capsys, "--db", db, "init", "--config", config)[0] == 0
    (tmp_path / "m.eml").write_bytes(MARIA)
    _ingest(capsys, db, tmp_path / "m.eml")
    _code, out, _ = _run(capsys, "--db", db, "conversations", "--json")
    (row,) = _json_lines(out)
    assert row["assignee_email"] == "jonas.weber@acme.example"


def test_init_reports_every_config_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown settings and references to missing agents are all listed; nothing is created."""
    config = tmp_path / "bad.toml"
    config.write_text(
        '[[channels]]\naddress = "s@in.example"\ncolour = "red"\n'
        '[channels.routing]\nmode = "users_and_teams"\nusers = ["ghost@acme.example"]\n',
        encoding="utf-8",
    )
    db = tmp_path / "inbox.db"
    code, _, err = _run(capsys, "--db", db, "init", "--config", config)
    assert code == 2
    assert "channels[0].colour" in err
    assert "ghost@acme.example is not one of the agents" in err
    assert not db.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["init", "--channel-address", "not an address"],
        ["init", "--agent", "Anna <anna@>", "--channel-address", CHANNEL],
        ["init"],  # no channel
        ["init", "--channel-address", CHANNEL, "--routing", "users_and_teams"],  # no agents
        ["init", "--channel-address", CHANNEL, "--routing", "round-robin"],
        ["init", "--channel-address", CHANNEL, "--max-size", "0"],
        ["conversations", "--status", "pending"],
        ["show"],
        ["ingest"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_usage_exits_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad flags or values are usage errors: status 2, a message on stderr, no inbox written."""
    db = tmp_path / "inbox.db"
    try:
        code = main(["--db", str(db), *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    assert capsys.readouterr().err
    assert not db.exists()


def test_init_with_config_and_flags_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config and inbox flags would compete: refused with 2, naming the flags."""
    config = tmp_path / "c.toml"
    config.write_text(f'[[channels]]\naddress = "{CHANNEL}"\n', encoding="utf-8")
    code, _, err = _run(
        capsys, "--db", tmp_path / "i.db", "init", "--config", config, "--account", "X"
    )
    assert code == 2
    assert "--account" in err


def test_init_with_unreadable_or_broken_toml_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing config file or invalid TOML is a usage error."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[[channels]\naddress = ", encoding="utf-8")
    assert _run(capsys, "--db", tmp_path / "a.db", "init", "--config", broken)[0] == 2
    missing = tmp_path / "missing.toml"
    assert _run(capsys, "--db", tmp_path / "b.db", "init", "--config", missing)[0] == 2


def test_init_never_overwrites_an_inbox(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second init on the same file fails with 1 and leaves the first inbox intact."""
    before = db.read_bytes()
    code, _, err = _run(capsys, "--db", db, "init", "--channel-address", "other@in.example")
    assert code == 1
    assert "exists already" in err
    assert db.read_bytes() == before


def test_commands_without_an_inbox_fail_with_1_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading commands name the missing inbox and do not leave an empty database behind."""
    db = tmp_path / "nothing.db"
    for argv in (["conversations"], ["tickets"], ["show", "cv-x"], ["ingest", "--offline", "x"]):
        code, _, err = _run(capsys, "--db", db, *argv)
        assert code == 1
        assert "inboxcore init" in err
    assert not db.exists()


def test_a_file_that_is_not_an_inbox_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pointing --db at some other file is a runtime failure, not a crash."""
    junk = tmp_path / "notes.db"
    junk.write_text("shopping list\n", encoding="utf-8")
    code, _, err = _run(capsys, "--db", junk, "conversations")
    assert code == 1
    assert err.startswith("inboxcore conversations:")


# --- ingest ------------------------------------------------------------------------------------


def test_ingest_eml_files_threads_replies_and_counts_duplicates(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two customers, a reply and a re-delivery: 3 accepted, 1 duplicate, 2 conversations."""
    files = []
    for name, data in (
        ("1.eml", MARIA),
        ("2.eml", KLAUS),
        ("3.eml", MARIA_REPLY),
        ("4.eml", MARIA),
    ):
        (tmp_path / name).write_bytes(data)
        files.append(tmp_path / name)
    summary = _ingest(capsys, db, *files)
    assert (summary["messages"], summary["accepted"], summary["duplicate"]) == (4, 3, 1)
    assert summary["conversations_created"] == 2
    assert summary["tickets_created"] == 2
    assert {"disposition": "duplicate", "code": "duplicate", "count": 1} in summary["reasons"]
    _code, out, _ = _run(capsys, "--db", db, "conversations", "--json")
    rows = {r["contact_email"]: r for r in _json_lines(out)}
    assert rows["maria.lopez@riverside-bakery.example"]["message_count"] == 2
    assert rows["k.becker@becker-metallbau.example"]["message_count"] == 1


def test_ingesting_the_same_files_again_changes_nothing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second run finds every message a duplicate: no new conversation or ticket."""
    (tmp_path / "a.eml").write_bytes(MARIA)
    (tmp_path / "b.eml").write_bytes(KLAUS)
    _ingest(capsys, db, tmp_path)
    again = _ingest(capsys, db, tmp_path)
    assert (again["accepted"], again["duplicate"], again["conversations_created"]) == (0, 2, 0)


def _forward(message_id: str) -> bytes:
    return _mail(
        "Anna Berg <anna.berg@acme.example>",
        "Fwd: Lieferung Bestellung 58113 fehlt",
        message_id,
        "Bitte uebernehmen.\n\n---------- Forwarded message ---------\n"
        "From: Klaus Becker <k.becker@becker-metallbau.example>\n"
        "Date: Tue, 4 Mar 2025 at 08:00\nSubject: Lieferung Bestellung 58113 fehlt\n"
        "To: <anna.berg@acme.example>\n\nUnsere Bestellung ist nicht angekommen.\n",
    )


def test_mailbox_export_vouches_for_the_teams_forwards_offline(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline nothing proves Anna's forward hers; --mailbox-export is the operator's word."""
    (tmp_path / "plain.eml").write_bytes(_forward("f1@acme.example"))
    (tmp_path / "export.eml").write_bytes(_forward("f2@acme.example"))
    _ingest(capsys, db, tmp_path / "plain.eml")
    code, out, err = _run(
        capsys, "--db", db, "ingest", "--offline", "--json", "--mailbox-export",
        tmp_path / "export.eml",
    )  # fmt: skip
    assert code == 0, err
    assert "sender.team_authenticated" in out
    assert "--mailbox-export" in out
    _code, out, _ = _run(capsys, "--db", db, "conversations", "--json")
    assert sorted(r["contact_email"] for r in _json_lines(out)) == [
        "anna.berg@acme.example",
        "k.becker@becker-metallbau.example",
    ]


def test_ingest_a_folder_takes_eml_and_mbox_files_and_skips_the_rest(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a folder, *.eml, *.mbox and Maildirs are mail; notes and hidden files are not."""
    folder = tmp_path / "mail"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.eml").write_bytes(MARIA)
    (folder / "sub" / "b.eml").write_bytes(KLAUS)
    (folder / "README.txt").write_text("exported from Thunderbird\n", encoding="utf-8")
    (folder / ".hidden.eml").write_bytes(TUNDE)
    summary = _ingest(capsys, db, folder)
    assert (summary["messages"], summary["accepted"]) == (2, 2)


def test_ingest_an_mbox_uses_its_from_lines_and_counts_duplicates(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every message of an mbox is read; the copy of an earlier one is a duplicate."""
    path = tmp_path / "export"  # no extension: recognised by its first line
    box = mailbox.mbox(path)
    for data in (MARIA, KLAUS, TUNDE, MARIA):
        box.add(mailbox.mboxMessage(data))
    box.flush()
    box.close()
    summary = _ingest(capsys, db, path)
    assert (summary["messages"], summary["accepted"], summary["duplicate"]) == (4, 3, 1)


def test_ingest_a_maildir_reads_new_and_cur(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Maildir's messages are all read, those already seen (cur) and the new ones."""
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.add(mailbox.MaildirMessage(MARIA))
    seen = mailbox.MaildirMessage(KLAUS)
    seen.set_subdir("cur")
    box.add(seen)
    box.add(mailbox.MaildirMessage(KLAUS))
    summary = _ingest(capsys, db, tmp_path / "Maildir")
    assert (summary["messages"], summary["accepted"], summary["duplicate"]) == (3, 2, 1)


def test_ingest_summary_table_lists_dispositions_and_reasons(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The human summary has a line per disposition and per reason, with counts."""
    (tmp_path / "a.eml").write_bytes(MARIA)
    (tmp_path / "b.eml").write_bytes(MARIA)
    (tmp_path / "c.eml").write_bytes(b"no headers, no sender, nothing\n")
    code, out, _ = _run(capsys, "--db", db, "ingest", "--offline", tmp_path)
    assert code == 0
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "accepted 1 (1 new conversations, 1 tickets)" in lines
    assert "duplicate 1" in lines
    assert "duplicate 1 duplicate" in lines
    assert "quarantined 1" in lines
    assert "quarantined 1 not_mail" in lines


def test_mail_for_another_address_is_rejected_as_unknown_recipient(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--recipient sets the envelope: an address no channel receives at is rejected."""
    (tmp_path / "a.eml").write_bytes(MARIA)
    code, out, _ = _run(
        capsys, "--db", db, "ingest", "--offline", "--json", "--recipient",
        "sales@acme.inbox.example.net", tmp_path / "a.eml",
    )  # fmt: skip
    assert code == 0
    message, summary = _json_lines(out)
    assert message["disposition"] == "rejected"
    assert message["smtp"].startswith("550 5.1.1")
    assert summary["rejected"] == 1
    assert {"disposition": "rejected", "code": "unknown_recipient", "count": 1} in summary[
        "reasons"
    ]


def test_ingest_reports_missing_paths_but_reads_the_rest(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing path is named on stderr and makes the status 1; the other files are ingested."""
    (tmp_path / "a.eml").write_bytes(MARIA)
    code, out, err = _run(
        capsys, "--db", db, "ingest", "--offline", tmp_path / "gone.eml", tmp_path / "a.eml"
    )
    assert code == 1
    assert "gone.eml: no such file or folder" in err
    assert "unreadable" in out
    assert "accepted 1 (1 new conversations, 1 tickets)" in " ".join(out.split())


def test_ingest_json_lines_name_source_verdict_and_conversation(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json gives one object per message with its verdict, then one summary object."""
    (tmp_path / "a.eml").write_bytes(TUNDE)
    _code, out, _ = _run(capsys, "--db", db, "ingest", "--offline", "--json", tmp_path / "a.eml")
    message, summary = _json_lines(out)
    assert message["record"] == "message"
    assert message["source"].endswith("a.eml")
    assert message["disposition"] == "accepted"
    assert message["new_conversation"] is True
    assert message["conversation_id"].startswith("cv-")
    assert message["ticket_id"].startswith("tk-")
    assert len(message["raw_id"]) == 64
    assert summary["record"] == "summary"
    assert summary["accepted"] == 1


def test_forced_progress_bar_goes_to_stderr_only(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--progress draws on stderr even off a terminal; stdout stays clean JSON."""
    (tmp_path / "a.eml").write_bytes(MARIA)
    code, out, err = _run(
        capsys, "--db", db, "ingest", "--offline", "--progress", "--json", tmp_path / "a.eml"
    )
    assert code == 0
    assert "1/1 messages" in err
    assert all(json.loads(line) for line in out.splitlines())


def test_no_progress_bar_off_a_terminal_by_default(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --progress and with stderr not a terminal, nothing but errors reach stderr."""
    (tmp_path / "a.eml").write_bytes(MARIA)
    code, _, err = _run(capsys, "--db", db, "ingest", "--offline", tmp_path / "a.eml")
    assert code == 0
    assert err == ""


# --- conversations, tickets, show ---------------------------------------------------------------


@pytest.fixture
def filled(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    for name, data in (("1.eml", MARIA), ("2.eml", KLAUS), ("3.eml", MARIA_REPLY)):
        (tmp_path / name).write_bytes(data)
    _ingest(capsys, db, tmp_path / "1.eml", tmp_path / "2.eml", tmp_path / "3.eml")
    return db


CONVERSATION_KEYS = {
    "id", "channel_id", "kind", "status", "subject", "contact_id", "contact_email", "contact_name",
    "message_count", "assignee_id", "assignee_email", "assignee_name", "ticket_id",
    "ticket_status", "created_at", "last_message_at", "closed_at", "linked_conversation_id",
}  # fmt: skip
TICKET_KEYS = {
    "id", "conversation_id", "channel_id", "name", "status", "pipeline", "stage", "priority",
    "category", "owner_id", "owner_email", "owner_name", "contact_email", "properties",
    "created_at", "updated_at",
}  # fmt: skip


def test_conversations_json_has_the_documented_keys(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One object per line with id, contact email, subject, message count, assignee, ticket."""
    code, out, _ = _run(capsys, "--db", filled, "conversations", "--json")
    assert code == 0
    rows = _json_lines(out)
    assert len(rows) == 2
    for row in rows:
        assert set(row) == CONVERSATION_KEYS
    maria = next(r for r in rows if r["contact_email"] == "maria.lopez@riverside-bakery.example")
    assert maria["subject"] == "Invoice INV-20417 charged twice"
    assert maria["message_count"] == 2
    assert maria["contact_name"] == "Maria Lopez"
    assert maria["ticket_id"].startswith("tk-")
    # users_and_teams with two agents: the two new conversations went to each in turn
    assert {r["assignee_email"] for r in rows} == {
        "anna.berg@acme.example",
        "jonas.weber@acme.example",
    }


def test_conversations_filters_by_assignee_status_and_limit(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--assignee, --status and --limit narrow the list."""
    _, out, _ = _run(
        capsys, "--db", filled, "conversations", "--json", "--assignee", "anna.berg@acme.example"
    )
    assert [r["assignee_email"] for r in _json_lines(out)] == ["anna.berg@acme.example"]
    _, out, _ = _run(capsys, "--db", filled, "conversations", "--json", "--assignee", "none")
    assert _json_lines(out) == []
    _, out, _ = _run(capsys, "--db", filled, "conversations", "--json", "--status", "closed")
    assert _json_lines(out) == []
    _, out, _ = _run(capsys, "--db", filled, "conversations", "--json", "--limit", "1")
    assert len(_json_lines(out)) == 1
    code, _, err = _run(capsys, "--db", filled, "conversations", "--assignee", "x@nowhere.example")
    assert code == 1
    assert "not one of the agents" in err


def test_conversations_table_is_readable(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table has a header and a row per conversation with contact, subject and assignee."""
    code, out, _ = _run(capsys, "--db", filled, "conversations")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "KIND", "CONTACT"]
    assert len(rows) == 2
    assert any("Invoice INV-20417 charged twice" in r and "maria.lopez@" in r for r in rows)


def test_tickets_json_has_the_documented_keys(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ticket per customer conversation, with its owner and the channel's template."""
    code, out, _ = _run(capsys, "--db", filled, "tickets", "--json")
    assert code == 0
    rows = _json_lines(out)
    assert len(rows) == 2
    for row in rows:
        assert set(row) == TICKET_KEYS
        assert row["priority"] == "normal"
        assert row["pipeline"] == "support"
        assert row["owner_email"] in ("anna.berg@acme.example", "jonas.weber@acme.example")
    _, out, _ = _run(capsys, "--db", filled, "tickets", "--status", "closed")
    assert out.strip() == "No tickets."


def test_show_finds_a_conversation_by_id_ticket_id_or_prefix(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """show accepts the conversation id, its ticket's id, or a unique start of either."""
    _, out, _ = _run(capsys, "--db", filled, "conversations", "--json")
    maria = next(r for r in _json_lines(out) if r["message_count"] == 2)
    for wanted in (maria["id"], maria["ticket_id"], maria["id"][:9]):
        code, out, err = _run(capsys, "--db", filled, "show", "--json", wanted)
        assert code == 0, err
        (data,) = _json_lines(out)
        assert data["id"] == maria["id"]
    assert [m["subject"] for m in data["messages"]] == [
        "Invoice INV-20417 charged twice",
        "Re: Invoice INV-20417 charged twice",
    ]
    assert data["messages"][0]["sender"]["email"] == "maria.lopez@riverside-bakery.example"
    assert data["ticket"]["id"] == maria["ticket_id"]
    assert set(data) >= CONVERSATION_KEYS | {"messages", "ticket", "participants"}


def test_show_human_output_lists_messages(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The detail view names contact, assignee, ticket and each message."""
    _, out, _ = _run(capsys, "--db", filled, "conversations", "--json")
    maria = next(r for r in _json_lines(out) if r["message_count"] == 2)
    code, out, _ = _run(capsys, "--db", filled, "show", maria["id"])
    assert code == 0
    assert "contact:   Maria Lopez <maria.lopez@riverside-bakery.example>" in out
    assert f"ticket:    {maria['ticket_id']} new" in out
    assert "2 messages" in out


def test_show_unknown_or_ambiguous_id_fails_with_1(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id that matches nothing, or several things, is named in the error."""
    code, _, err = _run(capsys, "--db", filled, "show", "cv-doesnotexist")
    assert code == 1
    assert "no conversation or ticket" in err
    code, _, err = _run(capsys, "--db", filled, "show", "cv-")
    assert code == 1
    assert "ambiguous" in err


# --- demo and the console script ---------------------------------------------------------------


def test_demo_prints_real_conversations_assignments_and_tickets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The demo ingests the samples: confirmation, forwards, a reply, notices, a duplicate."""
    code, out, err = _run(capsys, "demo")
    assert code == 0, err
    assert "01-gmail-forwarding-confirmation.eml" in out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    # Offline nothing proves Google sent its confirmation; the demo vouches for the team only.
    confirmation = next(line for line in lines if line.startswith("01-"))
    assert "confirmation.unverified" in confirmation
    assert "sender.team_authenticated" in next(line for line in lines if line.startswith("03-"))
    assert "accepted 7 (6 new conversations, 3 tickets)" in lines
    assert "duplicate 1" in lines
    conversations = out.split("\nConversations\n")[1].split("\nTickets\n")[0]
    # the contact is who wrote the mail, not the agent who forwarded it or the Google Group
    assert "k.becker@becker-metallbau.example" in conversations
    assert "t.okafor@lagos-print.example" in conversations
    assert "jonas.weber@acme.example" not in conversations
    assert "Anna Berg" in conversations
    assert "Jonas Weber" in conversations
    maria = next(line for line in conversations.splitlines() if "maria.lopez@" in line)
    assert " 2 " in maria  # the reply threaded into the first conversation
    tickets = out.split("\nTickets\n")[1]
    assert len([line for line in tickets.splitlines() if line.startswith("tk-")]) == 3


def test_demo_keep_leaves_an_inbox_the_other_commands_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--keep prints the inbox path; conversations --json on it lists the demo's conversations."""
    code, out, _ = _run(capsys, "demo", "--keep")
    assert code == 0
    path = Path(out.split("The inbox is kept at ")[1].split(". Explore")[0])
    try:
        code, out, _ = _run(capsys, "--db", path, "conversations", "--json", "--kind", "customer")
        assert code == 0
        assert {r["contact_email"] for r in _json_lines(out)} == {
            "maria.lopez@riverside-bakery.example",
            "k.becker@becker-metallbau.example",
            "t.okafor@lagos-print.example",
        }
    finally:
        shutil.rmtree(path.parent)


def test_console_script_runs_init_ingest_and_conversations(tmp_path: Path) -> None:
    """The installed `inboxcore` script works end to end in a fresh process."""
    script = Path(sys.executable).parent / "inboxcore"
    if not script.exists():
        found = shutil.which("inboxcore")
        if found is None:
            pytest.skip("the inboxcore console script is not installed")
        script = Path(found)
    (tmp_path / "a.eml").write_bytes(MARIA)
    env = {**os.environ, "PYTHONWARNINGS": "error"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), "--db", str(tmp_path / "inbox.db"), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    assert run("init", "--channel-address", CHANNEL).returncode == 0
    assert run("ingest", "--offline", str(tmp_path / "a.eml")).returncode == 0
    listed = run("conversations", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = _json_lines(listed.stdout)
    assert row["contact_email"] == "maria.lopez@riverside-bakery.example"
    assert run("show").returncode == 2


def test_quarantine_lists_held_mail_and_release_lets_it_in(tmp_path: Path) -> None:
    """A DMARC-held message is listed with its reasons; release accepts it into a conversation."""
    db = tmp_path / "inbox.db"
    assert (
        main(
            [
                "--db",
                str(db),
                "init",
                "--channel-address",
                "support@inbox.example.net",
                "--agent",
                "Ann <ann@acme.example>",
            ]
        )
        == 0
    )
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps({"_dmarc.customer.example": {"TXT": ["v=DMARC1; p=reject"]}}))
    message = tmp_path / "spoof.eml"
    message.write_bytes(
        b"From: CEO <ceo@customer.example>\r\nTo: support@inbox.example.net\r\nSubject: Wire the money\r\n"
        b"Message-ID: <spoof1@customer.example>\r\nReturn-Path: <ceo@customer.example>\r\n\r\nNow please.\r\n"
    )
    assert main(["--db", str(db), "ingest", "--dns-zone", str(zone), str(message)]) == 0
    listed = io.StringIO()
    with contextlib.redirect_stdout(listed):
        assert main(["--db", str(db), "quarantine", "--json"]) == 0
    (row,) = [json.loads(line) for line in listed.getvalue().splitlines()]
    assert row["from"] == "ceo@customer.example"
    assert row["subject"] == "Wire the money"
    assert row["reasons"] == ["dmarc.fail.reject"]
    released = io.StringIO()
    with contextlib.redirect_stdout(released):
        assert main(["--db", str(db), "release", "--json", row["raw_id"][:10]]) == 0
    result = json.loads(released.getvalue())
    assert result["verdict"] == "accepted"
    assert result["conversation_id"]
    assert [r["code"] for r in result["reasons"]][:2] == ["kind.message", "released"]
    empty = io.StringIO()
    with contextlib.redirect_stdout(empty):
        assert main(["--db", str(db), "quarantine"]) == 0
    assert empty.getvalue() == "Nothing is held back.\n"
    assert main(["--db", str(db), "release", "ffff"]) == 1


def test_show_source_puts_our_result_on_top_and_renames_forged_ones(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A customer's message claiming ``inboxcore; dmarc=pass`` is shown with that field renamed,
    our own stored result on top, and every other byte as received."""
    forged = b"Authentication-Results: inboxcore; dmarc=pass header.from=bank.example\n" + MARIA
    (tmp_path / "forged.eml").write_bytes(forged)
    _run(capsys, "--db", db, "ingest", "--offline", tmp_path / "forged.eml")
    code, out, _ = _run(capsys, "--db", db, "conversations", "--json")
    conversation = _json_lines(out)[0]["id"]
    code, out, _ = _run(capsys, "--db", db, "show", conversation, "--json")
    (message,) = _json_lines(out)[0]["messages"]
    assert message["authentication_results"] == (
        "inboxcore; spf=none; dkim=none; arc=none; dmarc=none"
    )
    code, out, err = _run(capsys, "--db", db, "show", conversation, "--source", message["id"])
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0] == "Authentication-Results: inboxcore; spf=none; dkim=none; arc=none; dmarc=none"
    )
    assert lines[1] == (
        "X-Original-Authentication-Results: inboxcore; dmarc=pass header.from=bank.example"
    )
    assert out.encode().endswith(MARIA.split(b"\n\n", 1)[1])
    code, _, err = _run(capsys, "--db", db, "show", conversation, "--source", "nope")
    assert code == 1
    assert "matches 'nope'" in err


def test_ingest_commits_its_batch_with_one_flush(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest` acknowledges nothing to a sender: it runs inside the SQLite storage's group
    commit (SqlStorage.batch_durability), every message inside it."""
    from inboxcore.adapters.sql import SqlStorage

    real = SqlStorage.batch_durability
    inside: list[str] = []

    @contextlib.contextmanager
    def recorded(self: SqlStorage) -> Any:
        with real(self):
            inside.append("entered")
            yield
            inside.append(self.synchronous)

    monkeypatch.setattr(SqlStorage, "batch_durability", recorded)
    (tmp_path / "1.eml").write_bytes(MARIA)
    summary = _ingest(capsys, db, tmp_path / "1.eml")
    assert summary["accepted"] == 1
    assert inside == ["entered", "NORMAL"]
