"""The fuzz harness: mutated real messages and pathological ones, and the invariants of intake.

Shared by the bounded run in the test suite (``tests/test_fuzz.py``) and the long run by hand
(``benchmarks/fuzz_intake.py``). Every input goes through :meth:`InboxService.receive` on the
in-memory fakes and through ``inboxcore inspect``'s report, and :meth:`FuzzHarness.run` checks:

- ``receive`` returns a :class:`Delivery` (no exception), and nothing inside it logged one (the
  service turns a crash into an ``internal_error`` quarantine: the message is kept, but the
  team cannot read it, and ``release`` fails the same way forever);
- the disposition has a reply, 2xx/4xx/5xx, of the disposition's class;
- a 2xx reply means an intake record of the raw message exists (nothing accepted unrecorded);
- inspect's ``report()`` is built without raising and is JSON.

Time and memory are measured (never asserted in the suite: the machine is shared).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import random
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from inboxcore.adapters.dns_static import StaticResolver
from inboxcore.app.service import InboxConfig, InboxService
from inboxcore.cli.inspect import inspect_message, report
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, UserId
from inboxcore.domain.model import Account, Channel, ChannelState, Envelope, User
from inboxcore.domain.outcomes import Disposition
from inboxcore.ports import Storage
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    SequentialIds,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHANNEL = "support-7f3k@acme.inbox.example.net"
AGENT = "anna@acme.example"
ACME = AccountId("acme")

# --- inputs -------------------------------------------------------------------------------------


def corpus_messages(shared: Path) -> list[bytes]:
    """Every whole message of ../shared/corpus (the ``rfc5322`` rows), in index order."""
    index = shared / "corpus" / "index.jsonl"
    rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]
    return [(shared / "corpus" / r["path"]).read_bytes() for r in rows if r["format"] == "rfc5322"]


def _split(raw: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            return head + sep, body
    return raw, b""


def _flip_bytes(raw: bytes, rnd: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 8)):
        if data:
            data[rnd.randrange(len(data))] = rnd.randrange(256)
    return bytes(data)


def _truncate(raw: bytes, rnd: random.Random) -> bytes:
    return raw[: rnd.randrange(len(raw) + 1)]


_CHARSETS = (b"utf-8", b"iso-8859-1", b"utf-7", b"x-unknown", b"utf-16", b"gb2312", b"", b"\xff")


def _swap_charset(raw: bytes, rnd: random.Random) -> bytes:
    found = raw.lower().find(b"charset=")
    if found < 0:
        return raw
    end = found + 8
    while end < len(raw) and raw[end : end + 1] not in b";\r\n \t":
        end += 1
    return raw[: found + 8] + rnd.choice(_CHARSETS) + raw[end:]


FILLERS = (b"x", b"a@b.c, ", b"=?utf-8?q?x?= ", b"(", b"<", b"\\", b">", b" ", b"a:")
"""What a huge line is made of."""


def _huge_line(raw: bytes, rnd: random.Random, fillers: Sequence[bytes] = FILLERS) -> bytes:
    at = rnd.randrange(len(raw) + 1)
    return raw[:at] + rnd.choice(fillers) * rnd.randint(1_000, 20_000) + raw[at:]


def _damage_boundary(raw: bytes, rnd: random.Random) -> bytes:
    found = raw.find(b"boundary=")
    if found < 0:
        return raw
    return raw[:found] + rnd.choice((b'boundary="', b"boundary=;", b"bound=")) + raw[found + 9 :]


_HEADER_NAMES = (b"From", b"To", b"Cc", b"Reply-To", b"Subject", b"Content-Type", b"Message-ID")
_HEADER_VALUES = (
    b"",
    b"=?utf-8?b?QUJDRA=x?= <ada@customer.example>",
    b"=?undefined?q?x?= <ada@customer.example>",
    b"((((((((((",
    b"<<<>>>@@@",
    b'"unterminated <a@b.example>',
    b"multipart/mixed; boundary=",
    b"a@" + b"x" * 300 + b".example",
    "=?utf-8?q?=C3=A9?= \u00e9 <\u00e9@\u00e9.example>".encode(),
)


def _damage_header(raw: bytes, rnd: random.Random) -> bytes:
    head, body = _split(raw)
    line = rnd.choice(_HEADER_NAMES) + b": " + rnd.choice(_HEADER_VALUES) + b"\r\n"
    return line + head + body


def _duplicate_slice(raw: bytes, rnd: random.Random) -> bytes:
    if not raw:
        return raw
    start = rnd.randrange(len(raw))
    piece = raw[start : start + rnd.randint(1, 2_000)]
    return raw[:start] + piece * rnd.randint(2, 50) + raw[start:]


MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    _flip_bytes,
    _truncate,
    _swap_charset,
    _damage_boundary,
    _damage_header,
    _duplicate_slice,
)
"""The mutations besides a huge line (which :func:`mutate` adds with its fillers)."""


def mutate(raw: bytes, seed: int, *, rounds: int = 2, fillers: Sequence[bytes] = FILLERS) -> bytes:
    """``raw`` after ``rounds`` mutations chosen by ``seed`` (the same seed, the same bytes):
    byte flips, truncation, a charset swapped, a huge line of one of ``fillers``, a boundary or
    header damaged, a slice repeated."""
    rnd = random.Random(seed)
    huge_line: Callable[[bytes, random.Random], bytes] = functools.partial(
        _huge_line, fillers=tuple(fillers)
    )
    mutators = [*MUTATORS, huge_line]
    for _ in range(rounds):
        raw = rnd.choice(mutators)(raw, rnd)
    return raw


def _message(headers: Sequence[str], body: str | bytes = "Hello.\r\n") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + data


_BASE = (
    "From: Ada <ada@customer.example>",
    f"To: {CHANNEL}",
    "Subject: help",
    "Date: Mon, 1 Jun 2026 11:00:00 +0000",
    "Message-ID: <p1@customer.example>",
)


def many_headers(n: int) -> bytes:
    """A message with ``n`` extra header fields."""
    return _message([*_BASE, *(f"X-Filler-{i}: value {i}" for i in range(n))])


def deep_multipart(depth: int) -> bytes:
    """``depth`` multiparts nested in each other, a text part at the bottom."""
    lines = [*_BASE, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b0"', ""]
    for level in range(1, depth):
        lines += [f"--b{level - 1}", f'Content-Type: multipart/mixed; boundary="b{level}"', ""]
    lines += [f"--b{depth - 1}", "Content-Type: text/plain", "", "deep", ""]
    lines += [f"--b{level}--" for level in reversed(range(depth))]
    return "\r\n".join(lines).encode() + b"\r\n"


def many_parts(n: int) -> bytes:
    """One multipart/mixed of ``n`` small attachments."""
    lines = [*_BASE, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"', ""]
    for i in range(n):
        lines += ["--b", f'Content-Type: text/plain; name="f{i}.txt"', "", "x"]
    lines.append("--b--")
    return "\r\n".join(lines).encode() + b"\r\n"


def long_header_line(size: int, unit: str = "x") -> bytes:
    """A Subject of ``size`` bytes on one line, made of ``unit`` repeated."""
    return _message([*_BASE, "Subject: " + unit * (size // len(unit))])


def many_dkim_signatures(n: int) -> bytes:
    """``n`` DKIM-Signature fields, each naming another domain (each would need a key lookup)."""
    signatures = [
        f"DKIM-Signature: v=1; a=rsa-sha256; d=d{i}.example; s=s; c=relaxed/relaxed; "
        f"h=from:to:subject; bh=AAAA; b=AAAA"
        for i in range(n)
    ]
    return _message([*signatures, *_BASE])


def many_arc_sets(n: int) -> bytes:
    """``n`` ARC sets (seal, message signature, results) with instances 1 to ``n``."""
    fields: list[str] = []
    for i in range(n, 0, -1):
        fields += [
            f"ARC-Seal: i={i}; a=rsa-sha256; cv={'none' if i == 1 else 'pass'}; d=f{i}.example; "
            "s=s; b=AAAA",
            f"ARC-Message-Signature: i={i}; a=rsa-sha256; c=relaxed/relaxed; d=f{i}.example; "
            "s=s; h=from; bh=AAAA; b=AAAA",
            f"ARC-Authentication-Results: i={i}; f{i}.example; spf=pass",
        ]
    return _message([*fields, *_BASE])


def qmail_bounce(recipients: int) -> bytes:
    """A qmail-style prose bounce listing ``recipients`` bare ``<address>:`` lines."""
    lines = [
        "Hi. This is the qmail-send program at mx.example.",
        "I'm afraid I wasn't able to deliver your message to the following addresses.",
        "This is a permanent error; I've given up. Sorry it didn't work out.",
        "",
    ]
    lines += [f"<user{i}@x.example>:" for i in range(recipients)]
    lines += ["", "--- Below this line is a copy of the message.", "", "Subject: hi"]
    return _message(
        [
            "From: MAILER-DAEMON@mx.example",
            f"To: {CHANNEL}",
            "Subject: failure notice",
            "Message-ID: <bounce@mx.example>",
        ],
        "\r\n".join(lines) + "\r\n",
    )


def exchange_bounce(addresses: int) -> bytes:
    """An Exchange-style notice with ``addresses`` ``a@b.c,`` on one line."""
    body = "Delivery has failed to these recipients or groups:\r\n" + "a@b.c," * addresses + "\r\n"
    return _message(
        [
            "From: postmaster@mx.example",
            f"To: {CHANNEL}",
            "Subject: Undeliverable: hi",
            "Message-ID: <ndr@mx.example>",
        ],
        body,
    )


def team_forward(size: int) -> bytes:
    """A manual forward by a team member whose quoted original is about ``size`` bytes."""
    line = "The quoted original goes on and on, as long mail threads do.\r\n"
    body = (
        "FYI, see below.\r\n\r\n---------- Forwarded message ---------\r\n"
        "From: Ceo Big <ceo@bigbank.example>\r\nDate: Mon, 1 Jun 2026 10:00\r\n"
        f"Subject: contract\r\nTo: <{AGENT}>\r\n\r\n" + line * (size // len(line))
    )
    encoded = base64.encodebytes(body.encode()).decode("ascii")
    return _message(
        [
            f"From: Anna <{AGENT}>",
            f"To: {CHANNEL}",
            "Subject: Fwd: contract",
            "Message-ID: <fwd@acme.example>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
        ],
        encoded,
    )


_BOUNCE_HEADERS = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example>",
    f"To: {CHANNEL}",
    "Subject: Undelivered Mail Returned to Sender",
    "Message-ID: <notice@mx.example>",
)

UNITS = (
    "a@",
    "<a@a@",
    ":a",
    "a:",
    "a@b.c,",
    "<u@x.example>:\n",
    "connect to x ",
    "to the following recipients ",
    "delivery to ",
    "RCPT TO:<a@",
    "Message-ID: <a@",
    "Final-Recipient: rfc822; a@",
    "Recipient",
    " ",
    "\n",
    "\n ",
    "(",
    "a.",
    ">",
    "x",
    "-----Original Message-----\n",
    "From: a@b.example\n",
    "Begin forwarded message:\n",
    "<",
    "<li",
    "<!--",
    "<script",
    "a_",
    "a=",
    '"',
)
"""Pieces that, repeated, have made a regular expression or a loop quadratic somewhere."""


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def bounce_notice(unit: str, size: int) -> bytes:
    """A prose bounce whose notice is ``unit`` repeated to ``size`` bytes."""
    return _message(_BOUNCE_HEADERS, "Your message could not be delivered.\n" + _repeat(unit, size))


def dsn_report(unit: str, size: int) -> bytes:
    """A multipart/report whose delivery-status part is ``unit`` repeated to ``size`` bytes."""
    body = (
        "--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n"
        "\r\nFinal-Recipient: rfc822; x@y.example\r\nAction: failed\r\nStatus: 5.0.0\r\n"
        "Diagnostic-Code: smtp; " + _repeat(unit, size) + "\r\n--r--\r\n"
    )
    headers = (
        *_BOUNCE_HEADERS,
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        "MIME-Version: 1.0",
    )
    return _message(headers, body)


def body_text(unit: str, size: int) -> bytes:
    """A customer's message whose plain-text body is ``unit`` repeated to ``size`` bytes."""
    return _message(_BASE, _repeat(unit, size))


_TEAM_FORWARD = (
    f"From: Anna <{AGENT}>",
    f"To: {CHANNEL}",
    "Subject: Fwd: x",
    "Message-ID: <f@a.example>",
    "MIME-Version: 1.0",
)


def html_body(unit: str, size: int) -> bytes:
    """A team member's HTML-only forward (its text, searched for the forwarded block, is
    rendered from the HTML), ``unit`` repeated."""
    headers = (*_TEAM_FORWARD, "Content-Type: text/html; charset=utf-8")
    return _message(headers, "<p>Hello</p>" + _repeat(unit, size))


def qp_body(unit: str, size: int) -> bytes:
    """A team member's quoted-printable forward (its text is decoded), ``unit`` repeated."""
    headers = (*_TEAM_FORWARD, "Content-Transfer-Encoding: quoted-printable")
    return _message(headers, _repeat(unit, size))


def dkim_tag(unit: str, size: int) -> bytes:
    """A DKIM-Signature whose h= tag is ``unit`` repeated (the tags are parsed before any key
    is fetched)."""
    signature = f"DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from:{_repeat(unit, size)}"
    return _message([signature + "; bh=AAAA; b=AAAA", *_BASE])


def arc_results(unit: str, size: int) -> bytes:
    """One ARC set whose ARC-Authentication-Results is ``unit`` repeated (it is parsed whatever
    the seal says)."""
    return _message(
        [
            "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=f.example; s=s; b=AAAA",
            "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=f.example; s=s; "
            "h=from; bh=AAAA; b=AAAA",
            "ARC-Authentication-Results: i=1; f.example; " + _repeat(unit, size),
            *_BASE,
        ]
    )


def forward_text(unit: str, size: int) -> bytes:
    """A manual forward by a team member whose body is ``unit`` repeated to ``size`` bytes."""
    return _message(_TEAM_FORWARD, "---------- Forwarded message ---------\n" + _repeat(unit, size))


PLACEMENTS: dict[str, Callable[[str, int], bytes]] = {
    "bounce_notice": bounce_notice,
    "dsn_report": dsn_report,
    "body_text": body_text,
    "html_body": html_body,
    "qp_body": qp_body,
    "forward_text": forward_text,
    "dkim_tag": dkim_tag,
    "arc_results": arc_results,
}
"""Where a repeated unit goes: each placement reaches other readers of the message."""


PATHOLOGICAL: dict[str, Callable[[int], bytes]] = {
    "many_headers": many_headers,
    "deep_multipart": deep_multipart,
    "many_parts": many_parts,
    "long_header_line": long_header_line,
    "many_dkim_signatures": many_dkim_signatures,
    "many_arc_sets": many_arc_sets,
    "qmail_bounce": qmail_bounce,
    "exchange_bounce": exchange_bounce,
    "team_forward": team_forward,
}
"""Each generator by name: its argument is the count (or size in bytes) that makes it heavy."""


def _with_header(name: str, value: str | bytes) -> bytes:
    """The base message with header ``name`` set to ``value``."""
    data = value.encode() if isinstance(value, str) else value
    base = [h for h in _BASE if not h.startswith(name + ":")]
    return name.encode() + b": " + data + b"\r\n" + _message(base)


_ENCODED_WORDS = {
    "bad_base64": b"=?utf-8?b?QUJDRA=x?=",
    "unknown_charset": b"=?undefined?q?x?=",
    "nul_in_charset": b"=?utf\x00-8?q?x?=",
    "non_ascii_charset": "=?iso-8859-1é?q?x?=".encode(),
}


def _findings() -> dict[str, Callable[[], bytes]]:
    found: dict[str, Callable[[], bytes]] = {}
    for label, word in _ENCODED_WORDS.items():
        for name in ("From", "To"):
            found[f"encoded_word_{label}_{name.lower()}"] = functools.partial(
                _with_header, name, word + b" <ada@customer.example>"
            )
    for depth in (1_000, 5_000):
        for name in ("From", "To", "Cc", "Reply-To"):
            found[f"nested_comments_{depth}_{name.lower()}"] = functools.partial(
                _with_header, name, "(" * depth + "ada@customer.example"
            )
    for count in (10_000, 40_000):
        found[f"encoded_words_{count}"] = functools.partial(
            _with_header, "Subject", "=?utf-8?q?x?= " * count
        )
    found["megabyte_domain"] = functools.partial(
        _with_header, "From", "ada@" + "a." * 500_000 + "example"
    )
    found["megabyte_address_list"] = functools.partial(_with_header, "To", "a@b.c, " * 150_000)
    for count in (250, 500, 1_000):
        found[f"qmail_bounce_{count}"] = functools.partial(qmail_bounce, count)
    for count in (1_000, 4_000):
        found[f"exchange_bounce_{count}"] = functools.partial(exchange_bounce, count)
    found["team_forward_27mb"] = functools.partial(team_forward, 20_000_000)  # 27 MB in base64
    found["parts_100000"] = functools.partial(many_parts, 100_000)
    return found


FINDINGS = _findings()
"""The minimal inputs of ../shared/notes/fuzz-findings.md, each built on demand, by name."""


# --- running and checking -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Failure:
    """One broken invariant: which, and where the exception (if any) started."""

    invariant: str
    site: tuple[str, str] | None = None
    detail: str = ""


@attrs.frozen(kw_only=True)
class Outcome:
    """What one input did: its verdict, the broken invariants, and how long each side took."""

    size: int
    disposition: str | None
    reply: str | None
    failures: tuple[Failure, ...]
    receive_seconds: float
    inspect_seconds: float


def site_of(error: BaseException) -> tuple[str, str]:
    """Where an exception started in inboxcore (the innermost frame of ours), else outside."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/inboxcore/" in f.filename.replace("\\", "/")]
    frame = (ours or frames)[-1] if (ours or frames) else None
    if frame is None:
        return ("?", type(error).__name__)
    path = frame.filename.replace("\\", "/")
    short = path.split("/inboxcore/", 1)[-1] if "/inboxcore/" in path else Path(path).name
    return (short, frame.name)


class _Collector(logging.Handler):
    """Keeps the exceptions inboxcore logged (the service catches and quarantines them)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


@attrs.frozen(kw_only=True)
class _Inbox:
    service: InboxService
    storage: InMemoryStorage


def inbox_service(storage: Storage) -> InboxService:
    """A service over ``storage`` (seeded with the account and the channel at :data:`CHANNEL`)
    and in-memory fakes for everything else; every DNS name is NXDOMAIN, so SPF, DKIM, ARC and
    DMARC run and find nothing."""
    agent = User(id=UserId("u1"), account_id=ACME, email=EmailAddress.parse(AGENT))
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(CHANNEL),
        created_at=NOW,
        state=ChannelState.CONNECTED,
    )
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    return InboxService(
        storage=storage,
        raw_store=InMemoryRawStore(),
        clock=FakeClock(NOW),
        ids=SequentialIds(),
        directory=FakeDirectory(users=[agent], available=[UserId("u1")]),
        events=RecordingEventSink(),
        dns=StaticResolver(),
        config=InboxConfig(
            conversation_keys=(b"fuzz-conversation-key-0001",),
            message_id_domain="acme.inbox.example.net",
        ),
    )


def _inbox() -> _Inbox:
    storage = InMemoryStorage()
    return _Inbox(service=inbox_service(storage), storage=storage)


_REPLY_CLASS = {
    Disposition.ACCEPTED: 2,
    Disposition.DUPLICATE: 2,
    Disposition.QUARANTINED: 2,
    Disposition.REJECTED: 5,
    Disposition.DEFERRED: 4,
}


class FuzzHarness:
    """Runs inputs through a fresh in-memory inbox each and checks the invariants."""

    def __init__(self, *, mail_from: str = "sender@customer.example") -> None:
        self.mail_from = mail_from
        self._collector = _Collector()

    def run(self, raw: bytes) -> Outcome:
        """One input through ``receive`` and inspect's report; never raises."""
        logger = logging.getLogger("inboxcore")
        logger.addHandler(self._collector)
        self._collector.errors.clear()
        try:
            failures: list[Failure] = []
            started = time.perf_counter()
            disposition, reply = self._receive(raw, failures)
            receive_seconds = time.perf_counter() - started
            started = time.perf_counter()
            self._inspect(raw, failures)
            inspect_seconds = time.perf_counter() - started
            failures += [
                Failure(invariant="logged_exception", site=site_of(e), detail=repr(e)[:200])
                for e in self._collector.errors
            ]
        finally:
            logger.removeHandler(self._collector)
        return Outcome(
            size=len(raw),
            disposition=disposition,
            reply=reply,
            failures=tuple(failures),
            receive_seconds=receive_seconds,
            inspect_seconds=inspect_seconds,
        )

    def _envelope(self) -> Envelope:
        return Envelope(received_at=NOW, mail_from=self.mail_from, rcpt_to=(CHANNEL,))

    def _receive(self, raw: bytes, failures: list[Failure]) -> tuple[str | None, str | None]:
        inbox = _inbox()
        try:
            delivery = inbox.service.receive(raw, self._envelope())
        except Exception as exc:
            failures.append(
                Failure(invariant="receive_raised", site=site_of(exc), detail=repr(exc))
            )
            return None, None
        reply = delivery.smtp
        if reply.code // 100 != _REPLY_CLASS[delivery.disposition]:
            failures.append(Failure(invariant="reply_class", detail=f"{delivery.disposition}"))
        if "internal_error" in delivery.reason_codes:
            failures.append(Failure(invariant="internal_error", detail=str(delivery.reasons)))
        if reply.code // 100 == 2:
            raw_id = delivery.raw_id
            with inbox.storage.unit_of_work() as uow:
                recorded = raw_id is not None and uow.intake_log.for_raw_message(raw_id)
            if not recorded:
                failures.append(Failure(invariant="accepted_unrecorded", detail=str(raw_id)))
        return delivery.disposition.value, str(reply)

    def _inspect(self, raw: bytes, failures: list[Failure]) -> None:
        """What ``inboxcore inspect --offline --json`` does for one file, without the file."""
        try:
            result = inspect_message(raw, mail_from=self.mail_from, now=NOW)
            json.dumps(report("fuzz.eml", result), ensure_ascii=False)
        except Exception as exc:
            failures.append(
                Failure(invariant="inspect_raised", site=site_of(exc), detail=repr(exc))
            )


def corpus_inputs(corpus: Sequence[bytes], seeds: Sequence[int]) -> Iterator[bytes]:
    """One mutated message per seed, the message and the mutations chosen by the seed."""
    for seed in seeds:
        yield mutate(corpus[seed % len(corpus)], seed)


def summary(values: dict[str, Any]) -> str:
    return json.dumps(values, indent=2, sort_keys=True)
