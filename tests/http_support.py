"""An inbox on the fakes with one channel, and each provider's POST as the provider sends it:
shared by tests/test_http_intake.py and tests/test_contrib_asgi.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import UTC, datetime

from inboxcore import (
    Account,
    AccountId,
    Channel,
    ChannelId,
    ChannelState,
    EmailAddress,
    InboxConfig,
    InboxService,
    build_inbox,
)
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    SequentialIds,
)

ADDRESS = "support-7f3k@acme.inbox.example.net"
NOW = datetime(2026, 5, 4, 8, tzinfo=UTC)
SIGNING_KEY = "key-mailgun-signing-0123456789"
SECRET = "s3cret-of-the-inbound-url"
BOUNDARY = "----inboxcore-test-boundary"
RAW = (
    b"From: Ada Lovelace <ada@customer.example>\r\nTo: support@acme.example\r\n"
    b"Subject: Invoice 1042\r\nMessage-ID: <m1@customer.example>\r\n"
    b"Date: Mon, 04 May 2026 07:59:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nThe total is wrong: 12 \xe2\x82\xac.\r\n"
)


def make_inbox(
    storage: InMemoryStorage | None = None,
    raw_store: InMemoryRawStore | None = None,
    dns: InMemoryDns | None = None,
) -> tuple[InboxService, InMemoryStorage, InMemoryRawStore]:
    """An inbox on the fakes with one connected channel receiving at :data:`ADDRESS`."""
    storage = storage if storage is not None else InMemoryStorage()
    raw_store = raw_store if raw_store is not None else InMemoryRawStore()
    clock = FakeClock(NOW)
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
        uow.channels.add(
            Channel(
                id=ChannelId("support"),
                account_id=AccountId("acme"),
                name="Support",
                forwarding_address=EmailAddress.parse(ADDRESS),
                created_at=clock.now(),
                state=ChannelState.CONNECTED,
            )
        )
        uow.commit()
    inbox = build_inbox(
        storage=storage,
        raw_store=raw_store,
        clock=clock,
        ids=SequentialIds(),
        directory=FakeDirectory(),
        events=RecordingEventSink(),
        dns=dns if dns is not None else InMemoryDns({}),
        config=InboxConfig(
            conversation_keys=["a test key of 16+ bytes"], message_id_domain="inbox.example.net"
        ),
    )
    return inbox, storage, raw_store


def multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of ``fields`` and its Content-Type."""
    parts = [
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in fields.items()
    ]
    body = b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def mailgun_fields(
    raw: bytes = RAW,
    *,
    key: str = SIGNING_KEY,
    timestamp: int | None = None,
    token: str = "a" * 50,
    recipient: str = ADDRESS,
) -> dict[str, bytes]:
    """A route's forward to a URL ending in ``mime``, signed as Mailgun signs."""
    stamp = str(int(NOW.timestamp()) if timestamp is None else timestamp)
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": recipient.encode(),
        "sender": b"ada@customer.example",
        "timestamp": stamp.encode(),
        "token": token.encode(),
        "signature": signature.encode(),
        "body-mime": raw,
    }


def urlencoded(fields: dict[str, bytes]) -> tuple[bytes, str]:
    return urllib.parse.urlencode(fields).encode("ascii"), "application/x-www-form-urlencoded"


def sendgrid_fields(raw: bytes = RAW, to: str = ADDRESS) -> dict[str, bytes]:
    """Inbound Parse with "POST the raw, full MIME message"."""
    envelope = json.dumps({"to": [to], "from": "ada@customer.example"}).encode()
    return {"to": b"support@acme.example", "envelope": envelope, "email": raw}


def postmark_body(raw: bytes = RAW, to: str = ADDRESS) -> bytes:
    """The inbound webhook with "Include raw email content in JSON payload"."""
    payload = {"OriginalRecipient": to, "Subject": "Invoice 1042", "RawEmail": raw.decode()}
    return json.dumps(payload).encode()


def basic(password: str, user: str = "inbox") -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


def headers_for(body: bytes, content_type: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
