"""``inboxcore serve`` end to end: a real receiver process on loopback, smtplib as the sender,
the SQLite inbox checked afterwards, and a receiver killed in the middle of deliveries."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.app.service import InboxService
from inboxcore.cli._inbox import Inbox, create_inbox, open_inbox
from inboxcore.cli._main import main
from inboxcore.cli._spec import ChannelSpec, InboxSpec
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.ids import ChannelId, RawMessageId
from inboxcore.domain.outcomes import SmtpReply
from inboxcore.entrypoints.receiver import (
    ListenAddress,
    Receiver,
    ReceiverProtocol,
    ReceiverSettings,
    format_delivery_line,
)
from inboxcore.testing import FlakyStorage, InMemoryStorage
from tests.fuzzing import CHANNEL as FUZZ_CHANNEL
from tests.fuzzing import inbox_service, qmail_bounce

SUPPORT = "support@acme.inbox.example"
BILLING = "billing@acme.inbox.example"
SMALL = "press@acme.inbox.example"
SMALL_LIMIT = 4_000
SERVER_LIMIT = 60_000


def message(
    n: int, *, subject: str = "Order {n} arrived damaged", body_pad: int = 0, sender: str = ""
) -> tuple[str, bytes]:
    """A real-looking customer mail, forwarded by the team's mailbox; returns (Message-ID, bytes)."""
    mid = f"{n}.{random.getrandbits(40):x}@mail.customer.example"
    author = sender or f"Jane Customer {n} <jane{n}@customer.example>"
    body = (
        f"Hello,\r\n\r\nparcel {n} arrived with a broken lid. Photos are attached to my "
        "next mail.\r\n\r\nRegards,\r\nJane\r\n"
    )
    body += ("x" * 76 + "\r\n") * (body_pad // 78)
    raw = (
        f"Return-Path: <jane{n}@customer.example>\r\n"
        f"From: {author}\r\n"
        "To: Acme Support <support@acme.example>\r\n"
        f"Subject: {subject.format(n=n)}\r\n"
        f"Message-ID: <{mid}>\r\n"
        "Date: Mon, 05 Jan 2026 09:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n" + body
    ).encode()
    return mid, raw


def make_inbox(folder: Path) -> Path:
    """An inbox with three channels (one with a small size limit), as ``init`` leaves it."""
    db = folder / "inbox.db"
    spec = InboxSpec(
        account="Acme",
        channels=(
            ChannelSpec(address=SUPPORT, team_addresses=("support@acme.example",)),
            ChannelSpec(address=BILLING, name="Billing", company_name="Acme Billing"),
            ChannelSpec(
                address=SMALL, name="Press", company_name="Acme Press", max_message_size=SMALL_LIMIT
            ),
        ),
    )
    create_inbox(db, spec).close()
    return db


class Server:
    """``inboxcore serve`` in a subprocess, with LMTP and SMTP listeners on free ports."""

    def __init__(self, folder: Path, *extra: str, dns: tuple[str, ...] = ("--offline",)) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inboxcore",
                "--db",
                str(folder / "inbox.db"),
                "serve",
                "--lmtp",
                "127.0.0.1:0",
                "--smtp",
                "127.0.0.1:0",
                *dns,
                "--hostname",
                "mx.test",
                "--max-size",
                str(SERVER_LIMIT),
                *extra,
            ],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ports: dict[str, int] = {}
        deadline = time.monotonic() + 20
        while len(self.ports) < 2:
            for line in list(self.lines):
                if line.startswith("listening "):
                    _, proto, _host, port = line.split()
                    self.ports[proto] = int(port)
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError("serve did not start:\n" + "\n".join(self.lines))
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def lmtp(self) -> smtplib.LMTP:
        client = smtplib.LMTP("127.0.0.1", self.ports["lmtp"], timeout=10)
        client.ehlo("postfix.test")
        return client

    def smtp(self) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=10)
        client.ehlo("postfix.test")
        return client

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.lines if needle in line and " raw=" in line]

    def wait_for_lines(self, needle: str, timeout: float = 10.0) -> list[str]:
        """The delivery lines holding ``needle``, once there is one: the reply can reach the
        client before the receiver's log line reaches us."""
        deadline = time.monotonic() + timeout
        while not (found := self.log_lines(needle)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self._reader.join(timeout=5)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        assert self.process.stderr is not None
        self.process.stderr.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("served")
    db = make_inbox(folder)
    # customer.example has no records (authentication "none"); broken.example's servers fail.
    zone = folder / "zone.json"
    zone.write_text('{"broken.example": "SERVFAIL", "_dmarc.broken.example": "SERVFAIL"}')
    server = Server(folder, dns=("--dns-zone", str(zone)))
    try:
        yield server, db
    finally:
        assert server.stop() == 0


def stored(db: Path, channel_address: str, mid: str) -> tuple[bool, bool]:
    """Whether the message with Message-ID ``mid`` is in the raw store, and in a conversation of
    the channel receiving at ``channel_address``."""
    with open_inbox(db) as inbox:
        channel = next(
            c for c in inbox.channels() if c.forwarding_address.address == channel_address
        )
        with inbox.storage.unit_of_work() as uow:
            found = uow.messages.by_rfc_message_ids(channel.id, [mid])
            if not found:
                return False, False
            msg = found[0]
            conversation = uow.conversations.get(msg.conversation_id)
        in_raw = msg.raw_id is not None and inbox.raw_store.contains(msg.raw_id)
        return in_raw, conversation.channel_id == channel.id


def channel_id(inbox: Inbox, address: str) -> ChannelId:
    return next(c.id for c in inbox.channels() if c.forwarding_address.address == address)


# --- LMTP --------------------------------------------------------------------------------------


def test_lmtp_answers_each_recipient_after_the_data(served: tuple[Server, Path]) -> None:
    """Two channels and a plus-tagged address: one 250 per accepted recipient, in RCPT order,
    and the message lands in both channels' conversations and once in the raw store."""
    server, db = served
    mid, raw = message(1)
    client = server.lmtp()
    assert client.mail("jane1@customer.example", [f"SIZE={len(raw)}"])[0] == 250
    assert client.rcpt(SUPPORT) == (250, b"2.1.5 Recipient OK")
    assert client.rcpt(BILLING)[0] == 250
    assert client.rcpt("support+urgent@acme.inbox.example")[0] == 250
    first = client.data(raw)
    replies = [first, client.getreply(), client.getreply()]
    client.quit()
    assert replies == [(250, b"2.0.0 Message accepted")] * 3
    assert stored(db, SUPPORT, mid) == (True, True)
    assert stored(db, BILLING, mid) == (True, True)


def test_unknown_recipient_is_refused_at_rcpt(served: tuple[Server, Path]) -> None:
    """An address no channel receives at gets 550 5.1.1 at RCPT, and the known one still gets
    its mail; the refusal is logged with its reason."""
    server, db = served
    mid, raw = message(2)
    client = server.lmtp()
    client.mail("jane2@customer.example")
    assert client.rcpt("nobody@acme.inbox.example") == (550, b"5.1.1 No such mailbox")
    assert client.rcpt(SUPPORT)[0] == 250
    assert client.data(raw) == (250, b"2.0.0 Message accepted")
    client.quit()
    assert stored(db, SUPPORT, mid) == (True, True)
    refusal = [line for line in server.lines if "rcpt=nobody@acme.inbox.example" in line]
    assert refusal
    assert "disposition=rejected reasons=unknown_recipient" in refusal[0]


def test_duplicate_delivery_is_answered_250_and_stored_once(served: tuple[Server, Path]) -> None:
    """The same message twice: 250 both times (the sender must not retry), the second says it
    was already received, and the channel holds one message."""
    server, db = served
    mid, raw = message(3)
    client = server.lmtp()
    for expected in (b"2.0.0 Message accepted", b"2.0.0 Message already received"):
        client.mail("jane3@customer.example")
        client.rcpt(SUPPORT)
        assert client.data(raw) == (250, expected)
    client.quit()
    with open_inbox(db) as inbox, inbox.storage.unit_of_work() as uow:
        assert len(uow.messages.by_rfc_message_ids(channel_id(inbox, SUPPORT), [mid])) == 1
    assert len(server.log_lines("disposition=duplicate")) >= 1


def test_declared_size_over_the_limit_is_refused_at_mail_from(served: tuple[Server, Path]) -> None:
    """SIZE is advertised with the limit; MAIL FROM declaring more gets 552 5.3.4."""
    server, _db = served
    client = server.lmtp()
    assert client.has_extn("size")
    assert client.esmtp_features["size"] == str(SERVER_LIMIT)
    assert client.mail("jane@customer.example", [f"SIZE={SERVER_LIMIT + 1}"]) == (
        552,
        b"5.3.4 Message too big",
    )
    client.quit()


def test_channel_limit_refuses_declared_size_at_rcpt(served: tuple[Server, Path]) -> None:
    """A channel with a lower limit refuses a declared size above it at RCPT (552 5.3.4) while
    another channel accepts the same message."""
    server, db = served
    mid, raw = message(4, body_pad=SMALL_LIMIT)
    client = server.lmtp()
    client.mail("jane4@customer.example", [f"SIZE={len(raw)}"])
    assert client.rcpt(SMALL) == (552, b"5.3.4 Message too big")
    assert client.rcpt(SUPPORT)[0] == 250
    assert client.data(raw)[0] == 250
    client.quit()
    assert stored(db, SUPPORT, mid) == (True, True)
    assert stored(db, SMALL, mid) == (False, False)


def test_undeclared_oversize_data_gets_552_per_recipient(served: tuple[Server, Path]) -> None:
    """Data beyond the limit with no SIZE: 552 5.3.4 after the dot, once per LMTP recipient
    (for the server limit) or for the channel whose limit is lower, and nothing is stored."""
    server, db = served
    mid, raw = message(5, body_pad=SERVER_LIMIT + 1000)
    client = server.lmtp()
    client.mail("jane5@customer.example")
    client.rcpt(SUPPORT)
    client.rcpt(BILLING)
    assert [client.data(raw), client.getreply()] == [(552, b"5.3.4 Message too big")] * 2
    # The session goes on: a channel's own lower limit is checked after the data.
    mid_small, raw_small = message(6, body_pad=SMALL_LIMIT)
    client.mail("jane6@customer.example")
    client.rcpt(SMALL)
    client.rcpt(SUPPORT)
    assert [client.data(raw_small), client.getreply()] == [
        (552, b"5.3.4 Message too big"),
        (250, b"2.0.0 Message accepted"),
    ]
    client.quit()
    assert stored(db, SUPPORT, mid) == (False, False)
    assert stored(db, SMALL, mid_small) == (False, False)
    assert stored(db, SUPPORT, mid_small) == (True, True)
    assert any("reasons=size_limit" in line for line in server.lines)


def test_null_sender_is_received(served: tuple[Server, Path]) -> None:
    """A bounce arrives with MAIL FROM:<>; the receiver takes it (the inbox decides what it is)."""
    server, _db = served
    _mid, raw = message(7, subject="Undelivered Mail Returned to Sender")
    client = server.lmtp()
    assert client.mail("<>")[0] == 250
    client.rcpt(SUPPORT)
    code, _text = client.data(raw)
    client.quit()
    assert code == 250
    assert server.wait_for_lines("from=<>")


def test_one_log_line_per_message(served: tuple[Server, Path]) -> None:
    """Each delivery logs its time, raw id, recipients, disposition, reasons, size and reply."""
    server, db = served
    mid, raw = message(8)
    client = server.lmtp()
    client.mail("jane8@customer.example")
    client.rcpt(SUPPORT)
    client.data(raw)
    client.quit()
    with open_inbox(db) as inbox, inbox.storage.unit_of_work() as uow:
        (msg,) = uow.messages.by_rfc_message_ids(channel_id(inbox, SUPPORT), [mid])
    (line,) = server.wait_for_lines(f"raw={msg.raw_id}")
    stamp, proto, *fields = line.split(" ")
    assert stamp.endswith("Z")
    assert stamp[:4].isdigit()
    assert proto == "lmtp"
    assert f"rcpt={SUPPORT}" in fields
    assert "disposition=accepted" in fields
    assert "reasons=kind.message,dmarc.none" in fields
    assert f"size={len(raw)}" in fields
    assert line.endswith('reply="250 2.0.0 Message accepted"')


def test_xforward_from_the_local_relay_names_the_original_client(
    served: tuple[Server, Path],
) -> None:
    """Postfix's XFORWARD (advertised to loopback) carries the real client's address and HELO
    into the envelope the inbox records; the loopback peer itself is never taken as the client."""
    server, db = served
    mid, raw = message(9)
    client = server.lmtp()
    assert client.has_extn("xforward")
    assert client.docmd("XFORWARD", "ADDR=198.51.100.23 NAME=mail.customer.example")[0] == 250
    assert client.docmd("XFORWARD", "HELO=mail.customer.example PROTO=ESMTP")[0] == 250
    client.mail("jane9@customer.example")
    client.rcpt(SUPPORT)
    assert client.data(raw)[0] == 250
    # Without XFORWARD, a relay's own address is not the client's.
    mid2, raw2 = message(10)
    client.mail("jane10@customer.example")
    client.rcpt(SUPPORT)
    assert client.data(raw2)[0] == 250
    client.quit()
    with open_inbox(db) as inbox, inbox.storage.unit_of_work() as uow:
        cid = channel_id(inbox, SUPPORT)
        (first,) = uow.messages.by_rfc_message_ids(cid, [mid])
        (second,) = uow.messages.by_rfc_message_ids(cid, [mid2])
        assert first.raw_id is not None
        assert second.raw_id is not None
        envelope = uow.intake_log.for_raw_message(RawMessageId(first.raw_id))[0].envelope
        plain = uow.intake_log.for_raw_message(RawMessageId(second.raw_id))[0].envelope
    assert (envelope.client_ip, envelope.helo) == ("198.51.100.23", "mail.customer.example")
    assert (plain.client_ip, plain.helo) == (None, None)


def test_temporary_dns_failure_defers_with_451(served: tuple[Server, Path]) -> None:
    """When DMARC cannot be looked up (SERVFAIL), the live session answers 451 so the sender
    retries, rather than guess; nothing reaches a conversation, and the log says why."""
    server, db = served
    mid, raw = message(13, sender="Jane Broken <jane@broken.example>")
    client = server.lmtp()
    client.docmd("XFORWARD", "ADDR=198.51.100.23 HELO=mail.broken.example")
    client.mail("jane@broken.example")
    client.rcpt(SUPPORT)
    code, text = client.data(raw)
    client.quit()
    assert code == 451
    assert text.startswith(b"4.")
    assert stored(db, SUPPORT, mid) == (False, False)
    (line,) = server.wait_for_lines("disposition=deferred")
    assert "reasons=dmarc.temperror" in line
    assert "client=198.51.100.23" in line


def test_lmtp_refuses_helo_and_ehlo(served: tuple[Server, Path]) -> None:
    """An LMTP listener speaks LHLO only (RFC 2033), so a misconfigured SMTP client notices."""
    server, _db = served
    client = smtplib.SMTP("127.0.0.1", server.ports["lmtp"], timeout=10)
    assert client.docmd("EHLO", "postfix.test")[0] == 500
    assert client.docmd("HELO", "postfix.test")[0] == 500
    client.quit()


# --- SMTP --------------------------------------------------------------------------------------


def test_smtp_takes_one_channel_per_transaction(served: tuple[Server, Path]) -> None:
    """SMTP has one reply per transaction: a second channel's recipient gets 452 4.5.3 (send it
    again apart), and each transaction's reply is its own channel's verdict."""
    server, db = served
    mid, raw = message(11)
    client = server.smtp()
    client.mail("jane11@customer.example", [f"SIZE={len(raw)}"])
    assert client.rcpt(SUPPORT)[0] == 250
    assert client.rcpt("support+vip@acme.inbox.example")[0] == 250
    assert client.rcpt(BILLING)[0] == 452
    assert client.data(raw) == (250, b"2.0.0 Message accepted")
    refused = client.sendmail("jane11@customer.example", [BILLING], raw)
    client.quit()
    assert refused == {}
    assert stored(db, SUPPORT, mid) == (True, True)
    assert stored(db, BILLING, mid) == (True, True)


def test_smtp_oversize_and_unknown(served: tuple[Server, Path]) -> None:
    """SMTP refuses an unknown recipient at RCPT and an oversize declared message at MAIL FROM."""
    server, _db = served
    _mid, raw = message(12)
    client = server.smtp()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("jane12@customer.example", ["ghost@acme.inbox.example"], raw)
    assert refused.value.recipients["ghost@acme.inbox.example"][0] == 550
    client.rset()
    assert client.mail("jane12@customer.example", [f"SIZE={SERVER_LIMIT * 2}"])[0] == 552
    client.quit()


# --- the protocol -----------------------------------------------------------------------------


def logged(server: Server, needle: str) -> bool:
    """Whether a line with ``needle`` reaches the server's log (read by a thread) within 5 s."""
    deadline = time.monotonic() + 5
    while not any(needle in line for line in server.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    return any(needle in line for line in server.lines)


ENHANCED = re.compile(rb"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}( |$)")


class Wire:
    """A raw connection: commands as bytes, replies as lists of lines (for what smtplib will not
    send: UTF-8 commands, pipelined groups, broken syntax)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            line = self.file.readline()
            assert line, "connection closed"
            lines.append(line.rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return lines

    def send(self, *commands: bytes) -> None:
        """Send ``commands`` in one write (a pipelined group, RFC 2920)."""
        self.sock.sendall(b"".join(c + b"\r\n" for c in commands))

    def ask(self, command: bytes) -> list[bytes]:
        self.send(command)
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_lhlo_and_ehlo_list_pipelining_and_enhanced_status_codes(
    served: tuple[Server, Path],
) -> None:
    """RFC 2033 section 5 requires PIPELINING and ENHANCEDSTATUSCODES of LMTP; both listeners
    advertise them with SIZE, 8BITMIME and SMTPUTF8 (and XFORWARD to the local relay)."""
    server, _db = served
    for port, hello in ((server.ports["lmtp"], b"LHLO"), (server.ports["smtp"], b"EHLO")):
        with Wire(port) as wire:
            lines = wire.ask(hello + b" postfix.test")
        extensions = {line[4:].split(b" ")[0] for line in lines[1:]}
        assert {b"PIPELINING", b"ENHANCEDSTATUSCODES", b"8BITMIME", b"SMTPUTF8"} <= extensions
        assert f"250-SIZE {SERVER_LIMIT}".encode() in lines
        assert b"XFORWARD" in extensions


@pytest.mark.parametrize("protocol", ["lmtp", "smtp"])
def test_every_reply_carries_an_enhanced_status_code(
    served: tuple[Server, Path], protocol: str
) -> None:
    """Whoever writes it (the inbox, or aiosmtpd for syntax and sequence errors), every reply but
    the greeting and the LHLO/EHLO reply carries an RFC 3463 code (RFC 2034)."""
    server, _db = served
    with Wire(server.ports[protocol]) as wire:
        hello = b"LHLO" if protocol == "lmtp" else b"EHLO"
        replies = [wire.ask(b"MAIL FROM:<jane40@customer.example>")]  # before the greeting
        wire.ask(hello + b" postfix.test")
        for command in (
            b"NOOP",
            b"RSET",
            b"VRFY <jane@customer.example>",
            b"HELP",
            b"BOGUS",
            b"RCPT TO:<" + SUPPORT.encode() + b">",  # before MAIL
            b"DATA",  # before RCPT
            b"MAIL FROM:",
            b"MAIL FROM:<jane40@customer.example> BODY=BOGUS",
            b"MAIL FROM:<jane40@customer.example>",
            b"MAIL FROM:<jane40@customer.example>",  # nested
            b"RCPT TO:<nobody@acme.inbox.example>",
            b"RCPT TO:",
            b"DATA extra",
            b"XFORWARD ADDR=198.51.100.23",  # inside a transaction
            b"RSET",
            b"QUIT",
        ):
            replies.append(wire.ask(command))
    lines = [line for reply in replies for line in reply]
    assert [line for line in lines if not ENHANCED.match(line)] == []


def test_pipelined_transaction_gets_its_replies_in_order(served: tuple[Server, Path]) -> None:
    """MAIL, RCPTs and DATA sent as one group (PIPELINING): each reply in order, then one per
    recipient after the data."""
    server, db = served
    mid, raw = message(41)
    with Wire(server.ports["lmtp"]) as wire:
        wire.ask(b"LHLO postfix.test")
        wire.send(
            b"MAIL FROM:<jane41@customer.example>",
            b"RCPT TO:<" + SUPPORT.encode() + b">",
            b"RCPT TO:<nobody@acme.inbox.example>",
            b"RCPT TO:<" + BILLING.encode() + b">",
            b"DATA",
        )
        group = [wire.reply()[0][:9] for _ in range(5)]
        assert group == [b"250 2.1.0", b"250 2.1.5", b"550 5.1.1", b"250 2.1.5", b"354 End d"]
        wire.sock.sendall(raw + b".\r\n")
        assert [wire.reply(), wire.reply()] == [[b"250 2.0.0 Message accepted"]] * 2
    assert stored(db, SUPPORT, mid) == (True, True)
    assert stored(db, BILLING, mid) == (True, True)


def test_utf8_sender_needs_smtputf8(served: tuple[Server, Path]) -> None:
    """A UTF-8 MAIL FROM without SMTPUTF8 gets 553 5.6.7 (RFC 6531 section 3.5); with it, the
    same sender's message is delivered."""
    server, db = served
    mid, raw = message(42, sender="Jörg <jörg@customer.example>")
    with Wire(server.ports["lmtp"]) as wire:
        wire.ask(b"LHLO postfix.test")
        sender = "MAIL FROM:<jörg@customer.example>".encode()
        assert wire.ask(sender) == [b"553 5.6.7 Non-ASCII addresses not permitted for that sender"]
        assert wire.ask(sender + b" SMTPUTF8 BODY=8BITMIME")[0].startswith(b"250 2.1.0")
        assert wire.ask(b"RCPT TO:<" + SUPPORT.encode() + b">")[0].startswith(b"250 2.1.5")
        assert wire.ask(b"DATA")[0].startswith(b"354")
        wire.sock.sendall(raw + b".\r\n")
        assert wire.reply() == [b"250 2.0.0 Message accepted"]
    assert stored(db, SUPPORT, mid) == (True, True)


def test_utf8_recipient_needs_smtputf8(served: tuple[Server, Path]) -> None:
    """A UTF-8 RCPT TO in a transaction without SMTPUTF8 gets 553 5.6.7, logged; an ASCII
    recipient of the same transaction is accepted."""
    server, _db = served
    with Wire(server.ports["lmtp"]) as wire:
        wire.ask(b"LHLO postfix.test")
        wire.ask(b"MAIL FROM:<jane43@customer.example>")
        refused = wire.ask("RCPT TO:<süpport@acme.inbox.example>".encode())
        assert refused == [b"553 5.6.7 Non-ASCII addresses not permitted for that recipient"]
        assert wire.ask(b"RCPT TO:<" + SUPPORT.encode() + b">")[0].startswith(b"250 2.1.5")
    assert logged(server, "reasons=utf8_without_smtputf8")


def test_a_line_too_long_gets_500_5_5_2_per_recipient(served: tuple[Server, Path]) -> None:
    """A data line over 1,000 octets: the data is read to its end, then 500 5.5.2 once per LMTP
    recipient; nothing is stored and the session goes on."""
    server, db = served
    mid, raw = message(44)
    long_raw = raw.replace(b"Regards,", b"Regards," + b"x" * 2_000, 1)
    client = server.lmtp()
    client.mail("jane44@customer.example")
    client.rcpt(SUPPORT)
    client.rcpt(BILLING)
    assert [client.data(long_raw), client.getreply()] == [(500, b"5.5.2 Line too long")] * 2
    client.mail("jane44@customer.example")
    client.rcpt(SUPPORT)
    assert client.data(raw) == (250, b"2.0.0 Message accepted")
    client.quit()
    assert stored(db, SUPPORT, mid) == (True, True)
    assert logged(server, "reasons=line_too_long")


def test_hostile_bounces_do_not_hold_the_delivery_threads(served: tuple[Server, Path]) -> None:
    """Four qmail-style bounces of 1,000 recipients each, sent at once (they once kept all four
    delivery threads busy for 81 s), then an ordinary message: every one is answered within the
    client's 10 s timeout."""
    server, db = served
    bounce = qmail_bounce(1_000)
    replies: list[tuple[int, bytes]] = []

    def deliver(n: int) -> None:
        client = server.lmtp()
        client.mail("")
        client.rcpt(SUPPORT)
        replies.append(client.data(bounce.replace(b"<bounce@", f"<bounce{n}@".encode())))
        client.quit()

    senders = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for sender in senders:
        sender.start()
    mid, raw = message(45)
    client = server.lmtp()
    client.mail("jane45@customer.example")
    client.rcpt(SUPPORT)
    assert client.data(raw) == (250, b"2.0.0 Message accepted")
    client.quit()
    for sender in senders:
        sender.join(timeout=30)
    assert [code for code, _text in replies] == [250] * 4
    assert stored(db, SUPPORT, mid) == (True, True)


@contextmanager
def receiver_in_a_thread(service: InboxService) -> Iterator[int]:
    """A :class:`Receiver` of ``service`` in this process (its loop in a thread); yields the
    LMTP port."""
    loop = asyncio.new_event_loop()
    receiver = Receiver(
        service,
        [ListenAddress(protocol=ReceiverProtocol.LMTP, host="127.0.0.1", port=0)],
        ReceiverSettings(hostname="mx.test", workers=1),
    )
    (bound,) = loop.run_until_complete(receiver.start())
    thread = threading.Thread(target=loop.run_until_complete, args=(receiver.serve(),))
    thread.start()
    try:
        yield bound.port
    finally:
        loop.call_soon_threadsafe(receiver.request_stop)
        thread.join(timeout=30)
        loop.close()


def test_an_unexpected_error_in_a_command_is_a_temporary_failure() -> None:
    """A command that fails inside the receiver (the storage raising what its contract does not
    allow) is answered 451 4.3.0, so the sender retries, never aiosmtpd's 500 naming the
    exception; the next try, with the storage well, is accepted."""
    storage = FlakyStorage(InMemoryStorage())
    with receiver_in_a_thread(inbox_service(storage)) as port, Wire(port) as wire:
        wire.ask(b"LHLO postfix.test")
        wire.ask(b"MAIL FROM:<jane46@customer.example>")
        storage.fail_next_units(1, RuntimeError("disk on fire"))
        failed = wire.ask(f"RCPT TO:<{FUZZ_CHANNEL}>".encode())
        retried = wire.ask(f"RCPT TO:<{FUZZ_CHANNEL}>".encode())
        wire.ask(b"QUIT")
    assert failed == [b"451 4.3.0 Temporary failure, try again later"]
    assert retried == [b"250 2.1.5 Recipient OK"]


# --- shutdown and crashes ------------------------------------------------------------------


def init_with_the_cli(folder: Path) -> Path:
    """An inbox made by ``inboxcore init`` with one channel, as a team would start."""
    db = folder / "inbox.db"
    status = main(
        [
            "--db",
            str(db),
            "init",
            "--channel-address",
            SUPPORT,
            "--team-address",
            "support@acme.example",
        ]
    )
    assert status == 0
    return db


def test_sigterm_lets_a_delivery_in_progress_finish_then_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On SIGTERM the receiver stops listening, closes idle sessions with 421, lets a client in
    the middle of DATA finish and get its 250, and exits 0 with the message stored."""
    db = init_with_the_cli(tmp_path)
    server = Server(tmp_path, "--grace-period", "10")
    mid, raw = message(20)
    head, tail = raw[: len(raw) // 2], raw[len(raw) // 2 :]
    busy = server.lmtp()
    idle = server.lmtp()
    busy.mail("jane20@customer.example")
    busy.rcpt(SUPPORT)
    assert busy.docmd("DATA")[0] == 354
    busy.send(head)
    time.sleep(0.2)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # Stopped listening at once; the idle session was told.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.ports["lmtp"]), timeout=2).close()
    assert idle.getreply()[0] == 421
    busy.send(tail + b".\r\n")
    assert busy.getreply() == (250, b"2.0.0 Message accepted")
    busy.close()
    idle.close()
    assert server.stop() == 0
    assert stored(db, SUPPORT, mid) == (True, True)


def test_sigkill_never_loses_a_message_that_got_250(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deliveries in a loop (and a client stopped before its final dot) while the receiver is
    killed with SIGKILL at a random point: every message answered 250 is in the raw store and in
    a conversation, and a restarted receiver takes the unanswered ones again."""
    db = init_with_the_cli(tmp_path)
    server = Server(tmp_path)
    rng = random.Random(os.getpid() ^ time.time_ns())
    kill_after = rng.randint(3, 15)
    acknowledged: list[str] = []
    unanswered: list[tuple[str, bytes]] = []
    done = threading.Event()

    def deliver_in_a_loop() -> None:
        client = server.lmtp()
        n = 100
        try:
            while not done.is_set():
                n += 1
                mid, raw = message(n)
                unanswered.append((mid, raw))
                client.mail(f"jane{n}@customer.example")
                client.rcpt(SUPPORT)
                if client.data(raw)[0] == 250:
                    acknowledged.append(mid)
                    unanswered.pop()
        except (OSError, smtplib.SMTPException):
            pass  # the receiver died under us
        finally:
            client.close()

    slow = server.lmtp()
    slow_mid, slow_raw = message(99)
    slow.mail("jane99@customer.example")
    slow.rcpt(SUPPORT)
    slow.docmd("DATA")
    slow.send(slow_raw[:-10])  # never the final dot
    worker = threading.Thread(target=deliver_in_a_loop)
    worker.start()
    deadline = time.monotonic() + 15
    while len(acknowledged) < kill_after and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.random() * 0.05)
    server.kill()
    done.set()
    worker.join(timeout=10)
    slow.close()
    assert len(acknowledged) >= kill_after, f"only {len(acknowledged)} deliveries before the kill"
    for mid in acknowledged:
        assert stored(db, SUPPORT, mid) == (True, True), f"{mid} got 250 but is not stored"
    assert stored(db, SUPPORT, slow_mid) == (False, False)
    # The sender retries what got no reply: the restarted receiver takes it, exactly once.
    restarted = Server(tmp_path)
    try:
        client = restarted.lmtp()
        for mid, raw in [(slow_mid, slow_raw), *unanswered]:
            client.mail("retry@customer.example")
            client.rcpt(SUPPORT)
            assert client.data(raw)[0] == 250
            assert stored(db, SUPPORT, mid) == (True, True)
        client.quit()
    finally:
        assert restarted.stop() == 0


# --- the command line and the values -------------------------------------------------------


def test_serve_without_a_listener_is_a_usage_error(tmp_path: Path) -> None:
    """``serve`` with no --lmtp/--smtp, or a malformed address, exits 2."""
    assert main(["serve", "--offline"]) == 2
    assert main(["serve", "--offline", "--lmtp", "localhost"]) == 2


def test_serve_without_an_inbox_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` where there is no inbox (default or --db) exits 1 and creates nothing."""
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--offline", "--lmtp", "127.0.0.1:0"]) == 1
    assert main(["--db", "elsewhere.db", "serve", "--offline", "--lmtp", "127.0.0.1:0"]) == 1
    assert list(tmp_path.iterdir()) == []


def test_listen_addresses_parse() -> None:
    """HOST:PORT, [IPv6]:PORT and :PORT parse; a bare host or an unbracketed IPv6 does not."""
    lmtp = ReceiverProtocol.LMTP
    assert ListenAddress.parse(lmtp, "127.0.0.1:24") == ListenAddress(
        protocol=lmtp, host="127.0.0.1", port=24
    )
    assert ListenAddress.parse(lmtp, "[::1]:2424").host == "::1"
    assert ListenAddress.parse(lmtp, ":24").host == ""
    assert str(ListenAddress.parse(lmtp, "[::1]:24")) == "lmtp://[::1]:24"
    for bad in ("localhost", "::1:24", "host:port", "host:70000"):
        with pytest.raises(InvalidValueError):
            ListenAddress.parse(lmtp, bad)


@settings(max_examples=50)
@given(host=st.ip_addresses().map(str), port=st.integers(0, 65535))
def test_any_ip_and_port_parse_back(host: str, port: int) -> None:
    """Every IP address and port, written as the docs say, parses to itself."""
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    parsed = ListenAddress.parse(ReceiverProtocol.SMTP, text)
    assert (parsed.host, parsed.port) == (host, port)


def test_trusted_relays_must_be_networks() -> None:
    """A trusted relay that is not a network is a configuration error, not a silent no-op."""
    assert ReceiverSettings(trusted_relays=["10.0.0.0/8"]).trusted_relays
    with pytest.raises(InvalidValueError):
        ReceiverSettings(trusted_relays=["mail.example"])


def test_refusal_line_has_no_raw_id() -> None:
    """A recipient refused before any data is logged with raw=- and the refusal's code."""
    line = format_delivery_line(
        protocol=ReceiverProtocol.SMTP,
        recipients=("ghost@acme.inbox.example",),
        reply=SmtpReply(code=550, enhanced="5.1.1", text="No such mailbox"),
        mail_from="",
        reason_codes=("unknown_recipient",),
        at="2026-01-05T09:00:00.000000Z",
    )
    assert line == (
        "2026-01-05T09:00:00.000000Z smtp raw=- rcpt=ghost@acme.inbox.example "
        "disposition=rejected reasons=unknown_recipient size=- from=<> client=- "
        'reply="550 5.1.1 No such mailbox"'
    )
