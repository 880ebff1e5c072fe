"""`inboxcore inspect`: explains verdicts, prints the documented JSON, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboxcore.cli._main import build_parser, main
from inboxcore.cli.inspect import inspect_files, inspect_message, report, run_inspect

CUSTOMER = (
    b"From: Ada Lovelace <ada@customer.example>\r\n"
    b"To: support-7f3k@acme.inbox.example.net\r\n"
    b"Subject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\n"
    b"Date: Wed, 01 Apr 2026 09:12:00 +0200\r\n"
    b"Message-ID: <CAF1042@mail.customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo!\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="rechnung.pdf"\r\n'
    b'Content-Disposition: attachment; filename="rechnung.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)

KEYS = {
    "file",
    "verdict",
    "reasons",
    "smtp",
    "size",
    "message_id",
    "subject",
    "date",
    "kind",
    "sender",
    "forwarder",
    "header_from",
    "list_id",
    "forwarding_confirmation",
    "bounce",
    "attachments",
    "defects",
    "authentication",
}


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["inspect", *argv])
    code = run_inspect(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_json_has_every_documented_key(tmp_path: Path) -> None:
    """--json prints one object per file with the documented keys and values."""
    path = tmp_path / "customer.eml"
    path.write_bytes(CUSTOMER)
    code, out, _ = _run("--offline", "--json", str(path))
    assert code == 0
    (line,) = out.splitlines()
    data = json.loads(line)
    assert set(data) >= KEYS
    assert data["verdict"] == "accepted"
    assert data["smtp"] == {"code": 250, "enhanced": "2.0.0", "text": "Message accepted"}
    assert data["subject"] == "Rechnung für März"
    assert data["date"] == "2026-04-01T07:12:00+00:00"
    assert data["kind"] == "message"
    assert data["sender"]["email"] == "ada@customer.example"
    assert data["sender"]["source"] == "header_from"
    assert data["header_from"] == {"email": "ada@customer.example", "name": "Ada Lovelace"}
    assert data["attachments"] == [
        {"filename": "rechnung.pdf", "content_type": "application/pdf", "size": 9}
    ]
    assert data["authentication"]["dmarc"] == "none"
    assert data["size"] == len(CUSTOMER)


def test_forged_claims_of_our_authserv_id_are_listed(tmp_path: Path) -> None:
    """A field claiming ``inboxcore`` (any spelling) is named under ``claims_of_ours``; our own
    result is computed as ever, not read from it."""
    path = tmp_path / "forged.eml"
    path.write_bytes(
        b'Authentication-Results: "inboxcore";\r\n dmarc=pass header.from=customer.example\r\n'
        + CUSTOMER
    )
    code, out, _ = _run("--offline", "--json", str(path))
    assert code == 0
    auth = json.loads(out)["authentication"]
    assert auth["claims_of_ours"] == ['"inboxcore"; dmarc=pass header.from=customer.example']
    assert auth["dmarc"] == "none"


def test_an_upstream_result_is_no_claim_of_ours(tmp_path: Path) -> None:
    """The legitimate twin: another authserv-id's field is not listed."""
    path = tmp_path / "edge.eml"
    path.write_bytes(b"Authentication-Results: mx.edge.example; spf=pass\r\n" + CUSTOMER)
    code, out, _ = _run("--offline", "--json", str(path))
    assert code == 0
    assert json.loads(out)["authentication"]["claims_of_ours"] == []


def test_one_line_per_file_in_order_and_max_size(tmp_path: Path) -> None:
    """Files are reported in the order given; --max-size refuses the large one."""
    small, big = tmp_path / "a.eml", tmp_path / "b.eml"
    small.write_bytes(CUSTOMER)
    big.write_bytes(CUSTOMER + b"x" * 2000)
    code, out, _ = _run(
        "--offline", "--json", "--max-size", str(len(CUSTOMER) + 10), str(small), str(big)
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["file"] for r in rows] == [str(small), str(big)]
    assert [r["verdict"] for r in rows] == ["accepted", "rejected"]
    assert rows[1]["smtp"]["enhanced"] == "5.3.4"


def test_team_address_makes_a_manual_forward(tmp_path: Path) -> None:
    """With --team-address, an agent's forward is attributed to the original writer."""
    forward = (
        b"From: Agent Smith <smith@acme.example>\r\nTo: support-7f3k@acme.inbox.example.net\r\n"
        b"Subject: Fwd: Broken login\r\nMessage-ID: <fw1@acme.example>\r\n\r\n"
        b"FYI\r\n\r\n---------- Forwarded message ---------\r\n"
        b"From: Bob Jones <bob@customer.example>\r\nDate: Tue, 31 Mar 2026 at 10:00\r\n"
        b"Subject: Broken login\r\nTo: <smith@acme.example>\r\n\r\nI cannot log in.\r\n"
    )
    path = tmp_path / "fwd.eml"
    path.write_bytes(forward)
    team = ("--offline", "--json", "--team-address", "smith@acme.example")
    _, out, _ = _run(*team, "--mailbox-export", str(path))
    data = json.loads(out)
    assert data["sender"]["email"] == "bob@customer.example"
    assert data["forwarder"]["email"] == "smith@acme.example"
    assert data["sender"]["team_member"] == "smith@acme.example"
    _, plain, _ = _run("--offline", "--json", str(path))
    assert json.loads(plain)["sender"]["email"] == "smith@acme.example"


def test_offline_a_team_forward_is_unproven_without_the_operators_word(tmp_path: Path) -> None:
    """--offline proves nobody: Smith's forward stays his, and the report says why."""
    forward = (
        b"From: Agent Smith <smith@acme.example>\r\nTo: support-7f3k@acme.inbox.example.net\r\n"
        b"Subject: Fwd: Broken login\r\nMessage-ID: <fw1@acme.example>\r\n\r\n"
        b"---------- Forwarded message ---------\r\nFrom: <ceo@victim.example>\r\n"
        b"Subject: Broken login\r\n\r\nWire the money.\r\n"
    )
    path = tmp_path / "fwd.eml"
    path.write_bytes(forward)
    _, out, _ = _run("--offline", "--json", "--team-address", "smith@acme.example", str(path))
    data = json.loads(out)
    assert data["sender"]["email"] == "smith@acme.example"
    assert data["sender"]["team_member"] is None
    assert [r["code"] for r in data["sender"]["reasons"]] == ["sender.team_unauthenticated"]


def test_offline_a_forwarding_confirmation_is_unverified(tmp_path: Path) -> None:
    """Without DNS nothing proves Google sent its confirmation: reported unverified."""
    confirmation = (
        b"X-Google-Address-Confirmation: Qz8pLmW3sT0vYb1R\r\n"
        b"From: Gmail Team <forwarding-noreply@google.com>\r\n"
        b"To: support-7f3k@acme.inbox.example.net\r\n"
        b"Subject: Gmail Forwarding Confirmation - Receive Mail from support@acme.example\r\n"
        b"Message-ID: <c1@google.com>\r\n\r\n"
        b"https://mail-settings.google.com/mail/vf-%5BANGjdJ9kT4%5D-hP2sLq8Zr\r\n"
    )
    path = tmp_path / "confirm.eml"
    path.write_bytes(confirmation)
    _, out, _ = _run("--offline", "--json", str(path))
    data = json.loads(out)
    assert data["kind"] == "forwarding_confirmation"
    assert data["forwarding_confirmation"]["verified"] is False
    assert data["forwarding_confirmation"]["proof"] is None
    assert "confirmation.unverified" in [r["code"] for r in data["reasons"]]
    _, text, _ = _run("--offline", str(path))
    assert "confirmation.unverified" in text


def test_dns_zone_file_is_used(tmp_path: Path) -> None:
    """--dns-zone answers the lookups: a p=reject policy in the zone holds the unsigned message."""
    zone = tmp_path / "zone.json"
    zone.write_text(
        json.dumps(
            {
                "customer.example": {"TXT": ["v=spf1 ip4:198.51.100.0/24 -all"]},
                "_dmarc.customer.example": {"TXT": ["v=DMARC1; p=reject"]},
            }
        )
    )
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    args = ["--json", "--dns-zone", str(zone), "--client-ip", "192.0.2.7"]
    code, out, _ = _run(*args, "--mail-from", "ada@customer.example", str(path))
    assert code == 0
    data = json.loads(out)
    assert data["verdict"] == "quarantined"
    assert data["authentication"]["spf"] == "fail"
    assert data["authentication"]["dmarc"] == "fail"
    assert data["authentication"]["dmarc_policy"] == "reject"
    assert data["reasons"][0]["code"] == "dmarc.fail.reject"


def test_trusted_forwarder_flag_reaches_the_disposition(tmp_path: Path) -> None:
    """--trusted-forwarder is passed to the channel (an untrusted sealer changes nothing here)."""
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps({"_dmarc.customer.example": {"TXT": ["v=DMARC1; p=none"]}}))
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    args = ["--json", "--dns-zone", str(zone), "--trusted-forwarder", "lists.example.net"]
    code, out, _ = _run(*args, str(path))
    assert code == 0
    assert json.loads(out)["authentication"]["dmarc_policy"] == "none"
    results = inspect_files([path], dns=None, trusted_forwarders=["lists.example.net"])
    (_, result) = results[0]
    assert result.channel is not None
    assert result.channel.intake.trusted_forwarders == ("lists.example.net",)


def test_inspect_message_reads_bytes_as_inspect_files_reads_a_file(tmp_path: Path) -> None:
    """inspect_message() takes the bytes (a fuzz harness, a host's own tool): the same report."""
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    ((_, from_file),) = inspect_files([path], dns=None, now=now)
    from_bytes = inspect_message(CUSTOMER, dns=None, now=now)
    assert report("m.eml", from_bytes) == report("m.eml", from_file)


def test_human_output_explains(tmp_path: Path) -> None:
    """Without --json, each file gets a verdict line and its reasons."""
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    code, out, _ = _run("--offline", str(path))
    assert code == 0
    assert out.startswith(f"{path}: ACCEPTED (250 2.0.0 Message accepted)")
    assert "kind.message" in out


def test_human_output_is_text_for_people_never_a_python_repr(tmp_path: Path) -> None:
    """Nested fields (authentication, the sender, attachments) are indented ``name: value``
    lines and items, with the same facts as --json."""
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    code, out, _ = _run("--offline", str(path))
    assert code == 0
    assert "{" not in out
    assert "'" not in out
    assert "  sender:\n    email: ada@customer.example\n    name: Ada Lovelace\n" in out
    assert "  authentication:\n    spf: none\n" in out
    assert "  attachments:\n    - filename: rechnung.pdf, content_type: application/pdf" in out
    assert "  subject: Rechnung für März\n" in out


def _mbox(
    *messages: bytes, separator: bytes = b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970"
) -> bytes:
    return b"".join(separator + b"\n" + m.replace(b"\r\n", b"\n") + b"\n" for m in messages)


def test_an_mbox_is_read_message_by_message_as_ingest_reads_it(tmp_path: Path) -> None:
    """Each message of an mbox is its own report, labelled file#n; the separator line is no
    bounce and the topmost Return-Path is the envelope sender, as for ingest."""
    second = CUSTOMER.replace(b"CAF1042", b"CAF1043").replace(
        b"From: Ada",
        b"Return-Path: <>\r\nFrom: Mail Delivery System <mailer-daemon@x.example>\r\nX-Ada: Ada",
    )
    box = tmp_path / "export.mbox"
    box.write_bytes(_mbox(CUSTOMER, second))
    code, out, _ = _run("--offline", "--json", str(box))
    assert code == 0
    reports = [json.loads(line) for line in out.splitlines()]
    assert [r["file"] for r in reports] == [f"{box}#1", f"{box}#2"]
    assert reports[0]["kind"] == "message"
    assert reports[0]["verdict"] == "accepted"
    assert reports[1]["kind"] != "message"  # the null Return-Path makes it automatic mail


def test_a_folder_is_walked_as_ingest_walks_it(tmp_path: Path) -> None:
    """.eml and .mbox files in name order; notes beside the mail are not messages."""
    (tmp_path / "b.eml").write_bytes(CUSTOMER)
    (tmp_path / "a.mbox").write_bytes(_mbox(CUSTOMER.replace(b"CAF1042", b"CAF1044")))
    (tmp_path / "notes.txt").write_text("not mail")
    results = inspect_files([tmp_path], dns=None)
    assert [label for label, _ in results] == [f"{tmp_path / 'a.mbox'}#1", str(tmp_path / "b.eml")]


def test_unreadable_file_exits_1_and_bad_usage_exits_2(tmp_path: Path) -> None:
    """A missing file is exit 1 with a message; a bad address is exit 2."""
    code, _, err = _run("--offline", str(tmp_path / "missing.eml"))
    assert code == 1
    assert "cannot read" in err
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    with pytest.raises(SystemExit) as info:
        _run("--offline", "--recipient", "not an address", str(path))
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["inspect"])
    assert info.value.code == 2


def test_console_script_runs(tmp_path: Path) -> None:
    """`python -m inboxcore inspect` works as a process."""
    path = tmp_path / "m.eml"
    path.write_bytes(CUSTOMER)
    done = subprocess.run(
        [sys.executable, "-m", "inboxcore", "inspect", "--offline", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "accepted"
