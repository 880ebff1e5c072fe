"""Sender resolution over the real-world forwards of ../shared/corpus (crisp-oss/email-forward-parser).

Each ``body_text`` sample is the body of a manually forwarded message; it is wrapped in a message
from a team member (subject from the row's ``subject_file``, if any) and run through
:func:`inboxcore.mail.sender.resolve_sender` with the agent's domain proven (a forward the team
member really sent). The expectations are the source project's own.
"""

from __future__ import annotations

import base64
import email.header
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inboxcore.domain.addresses import EmailAddress
from inboxcore.mail.evidence import Evidence, EvidenceMethod
from inboxcore.mail.parsing import parse_message
from inboxcore.mail.sender import SenderResolution, SenderSource, SenderTrust, resolve_sender

AGENT = "agent.smith@team.example"
CHANNEL = EmailAddress.parse("support@inbox.example")
SIGNED = SenderTrust(evidence=(Evidence(domain="team.example", method=EvidenceMethod.DKIM),))
"""The agent's forwards are proven theirs (their domain's DKIM passed): the block is believed."""
FIELDS = (
    "forwarded",
    "original_from_email",
    "original_from_name",
    "original_subject",
    "original_body",
    "forwarder_message",
)

# Expectations we knowingly do not meet, as {(path, field): reason}. Empty: every expectation of
# the corpus is met. Add an entry only with the reason, after reading the message.
KNOWN_MISSES: dict[tuple[str, str], str] = {}


def _rows(shared: Path) -> Iterator[dict[str, Any]]:
    index = shared / "corpus" / "index.jsonl"
    for line in index.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["source"] == "crisp_forward_parser" and row["format"] == "body_text":
            yield row


def _wrap(body: bytes, subject: str | None) -> bytes:
    """A message from a team member whose body is ``body`` (base64, so every byte survives)."""
    headers = [
        f"From: Agent Smith <{AGENT}>",
        f"To: {CHANNEL.address}",
        "Message-ID: <corpus-forward@team.example>",
        "Date: Thu, 28 Oct 2021 12:50:00 +0300",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
    ]
    if subject is not None:
        headers.append("Subject: " + email.header.Header(subject, "utf-8").encode())
    encoded = base64.encodebytes(body).decode("ascii")
    return ("\r\n".join(headers) + "\r\n\r\n" + encoded).encode("ascii")


def _observed(resolution: SenderResolution) -> dict[str, Any]:
    forwarded = resolution.forwarded
    if forwarded is None:
        return {"forwarded": False}
    email_seen: str | None
    if forwarded.from_address is not None:
        # The resolution must have used the block: the sender is the block's author.
        used = resolution.source is SenderSource.MANUAL_FORWARD_BODY
        email_seen = resolution.sender.address if used and resolution.sender else "(not used)"
    else:
        # No address in the block: the team member stays the sender.
        kept = resolution.sender is not None and resolution.sender.key == AGENT
        email_seen = None if kept else "(agent replaced)"
    return {
        "forwarded": True,
        "original_from_email": email_seen,
        "original_from_name": forwarded.from_name,
        "original_subject": forwarded.subject,
        "original_body": forwarded.body,
        "forwarder_message": forwarded.forwarder_message,
    }


def test_corpus_forwards_meet_the_expectations(shared_dir: Path) -> None:
    """Every crisp forward-parser sample yields the expected original sender, subject and body."""
    corpus = shared_dir / "corpus"
    scores = {field: [0, 0] for field in FIELDS}
    failures: list[str] = []
    rows = list(_rows(shared_dir))
    assert len(rows) >= 100
    for row in rows:
        body = (corpus / row["path"]).read_bytes()
        subject_file = row.get("subject_file")
        subject = (
            (corpus / subject_file).read_text(encoding="utf-8").strip() if subject_file else None
        )
        parsed = parse_message(_wrap(body, subject))
        resolution = resolve_sender(
            parsed, team_addresses={AGENT}, channel_address=CHANNEL, trust=SIGNED
        )
        observed = _observed(resolution)
        for field, expected in row["expected"].items():
            scores[field][1] += 1
            if observed.get(field) == expected:
                scores[field][0] += 1
            elif (row["path"], field) not in KNOWN_MISSES:
                failures.append(
                    f"{row['path']} [{subject!r}] {field}: "
                    f"got {observed.get(field)!r:.80} want {expected!r:.80}"
                )
    print("\ncrisp_forward_parser corpus, per field (matched/expected):")
    for field, (hit, total) in scores.items():
        print(f"  {field:22} {hit:3}/{total:3}  {100 * hit / max(total, 1):5.1f}%")
    assert failures == []


def test_known_misses_are_documented() -> None:
    """Every allowed miss names a reason, so the list cannot grow silently."""
    assert all(reason.strip() for reason in KNOWN_MISSES.values())


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("FW: Integer consequat non purus", True), ("Re: Integer consequat non purus", False)],
)
def test_reply_style_header_counts_only_with_a_forward_subject(
    shared_dir: Path, subject: str, expected: bool
) -> None:
    """Outlook 2019's "... wrote:" header is a forward under FW: and a reply under Re:."""
    body = (
        shared_dir / "corpus/crisp_forward_parser/fixtures/outlook_2019_fi_body.txt"
    ).read_bytes()
    parsed = parse_message(_wrap(body, subject))
    resolution = resolve_sender(
        parsed, team_addresses={AGENT}, channel_address=CHANNEL, trust=SIGNED
    )
    assert (resolution.source is SenderSource.MANUAL_FORWARD_BODY) is expected
    expected_sender = "john.doe@acme.com" if expected else AGENT
    assert resolution.sender is not None
    assert resolution.sender.key == expected_sender
