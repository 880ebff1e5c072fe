"""``inboxcore inspect``: run intake on message files and explain each verdict.

Files, mbox files, Maildirs and folders are read as ``inboxcore ingest`` reads them (the n-th
message of an mbox is labelled ``file#n``), and the envelope sender is rebuilt the same way (the
topmost Return-Path, else the mbox ``From `` line) unless ``--mail-from`` gives it. Each message
is run on its own, through in-memory adapters: a channel is set up whose forwarding address is
``--recipient`` (default: the message's first To address), with the team addresses given by
``--team-address``. DNS comes from ``--dns-zone FILE`` (a static zone), the system resolver
(``--dns system``, the default) or nowhere (``--offline``: authentication results are ``none``,
so nothing is proven: a team member's forward is not unwrapped, and a provider's forwarding
confirmation is reported unverified). ``--mailbox-export`` is the operator's word that the files
come from the team's own mailbox, standing in for proof of the team's addresses. With ``--json``
it prints one JSON object per message, one per line, in the order given; the schema is in
``docs/inspect-json.md``; without it, the same fields for people, as indented ``name: value``
lines. The exit status is 0 whatever the verdicts, 2 for usage errors and 1 when a path cannot
be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import attrs

from inboxcore.auth.authentication import AuthenticationConfig, AuthenticationResult
from inboxcore.auth.results import claims_authserv_id, incoming_results
from inboxcore.cli._ingest import MAILBOX_EXPORT
from inboxcore.cli._options import (
    add_dns_arguments,
    count,
    dns_from_args,
    email_address,
    ip_address,
    mail_from,
)
from inboxcore.cli._sources import MessageSource, collect_sources, envelope_sender
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress, InvalidValueError
from inboxcore.domain.ids import AccountId, ChannelId
from inboxcore.domain.model import Account, Channel, ChannelState, Envelope, IntakeSettings
from inboxcore.ingest import IntakeConfig, IntakePorts, IntakeResult, ingest
from inboxcore.mail.classify import Classification
from inboxcore.mail.parsing import ParsedMessage, parse_message
from inboxcore.mail.sender import SenderResolution
from inboxcore.ports import DnsResolver
from inboxcore.testing import FakeClock, InMemoryRawStore, InMemoryStorage

__all__ = ["add_inspect_arguments", "inspect_files", "inspect_message", "report", "run_inspect"]

_FALLBACK_RECIPIENT = "inspect@inbox.invalid"
_AUTHSERV_ID = AuthenticationConfig().authserv_id
"""Ours, as a service with the default configuration writes it (``inspect`` runs one)."""


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="message files (.eml), mbox files, Maildirs or folders of them, read as ingest reads",
    )
    parser.add_argument(
        "--recipient",
        type=email_address,
        help="the channel's forwarding address (default: first To)",
    )
    parser.add_argument(
        "--team-address",
        action="append",
        default=[],
        metavar="ADDR",
        help="an agent's or the forwarding mailbox's address (repeatable)",
    )
    parser.add_argument(
        "--mail-from", type=mail_from, help="the envelope sender (MAIL FROM); '' for null"
    )
    parser.add_argument("--client-ip", type=ip_address, help="the connecting client's IP address")
    parser.add_argument("--helo", help="the client's HELO/EHLO name")
    parser.add_argument("--max-size", type=count, metavar="BYTES", help="the size limit")
    add_dns_arguments(parser)
    parser.add_argument(
        "--trusted-forwarder",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="an ARC sealer trusted to vouch for forwarded mail (repeatable)",
    )
    parser.add_argument(
        "--mailbox-export",
        action="store_true",
        help="the files come from the team's own mailbox: mail from a team address counts as "
        "the team's without DNS proof",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per message and line")


def _address(value: EmailAddress | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"email": value.address, "name": value.display_name}


def _claims_of_ours(parsed: ParsedMessage | None) -> list[str]:
    """Incoming Authentication-Results claiming our authserv-id: forged (intake never believes
    them; a host's view renames them), listed so that the reader sees the attempt."""
    if parsed is None:
        return []
    values = incoming_results(parsed)
    return [" ".join(v.split()) for v in values if claims_authserv_id(v, _AUTHSERV_ID)]


def report(path: str, result: IntakeResult) -> dict[str, Any]:
    """The inspect JSON object for one message (schema: docs/inspect-json.md); ``path`` is its
    label (the file, or ``file#n`` for the n-th message of an mbox)."""
    parsed = result.parsed
    classification = result.classification
    header_from = parsed.from_[0] if parsed is not None and parsed.from_ else None
    return {
        "file": path,
        "verdict": result.disposition.value,
        "reasons": [{"code": r.code, "message": r.message} for r in result.reasons],
        "smtp": {
            "code": result.smtp.code,
            "enhanced": result.smtp.enhanced,
            "text": result.smtp.text,
        },
        "size": result.size,
        "raw_id": result.raw_id,
        "message_id": parsed.message_id if parsed else None,
        "subject": parsed.subject if parsed else None,
        "date": parsed.date.isoformat() if parsed and parsed.date else None,
        "kind": classification.kind.value if classification else None,
        "sender": _sender_json(result.sender),
        "forwarder": _address(result.sender.forwarder) if result.sender else None,
        "header_from": _address(header_from),
        "list_id": parsed.list_id if parsed else None,
        "forwarding_confirmation": _confirmation_json(classification),
        "bounce": _bounce_json(classification),
        "attachments": _attachments_json(parsed),
        "defects": list(parsed.defects) if parsed else [],
        "authentication": _authentication_json(result.authentication, parsed),
    }


def _sender_json(sender: SenderResolution | None) -> dict[str, Any] | None:
    if sender is None or sender.sender is None:
        return None
    return {
        "email": sender.sender.address,
        "name": sender.sender.display_name,
        "source": sender.source.value,
        "team_member": sender.team_member.address if sender.team_member else None,
        "reasons": [{"code": r.code, "message": r.message} for r in sender.reasons],
    }


def _confirmation_json(classification: Classification | None) -> dict[str, Any] | None:
    confirmation = classification.forwarding_confirmation if classification else None
    if confirmation is None:
        return None
    return {
        "provider": confirmation.provider,
        "requesting_address": confirmation.requesting_address,
        "code": confirmation.code,
        "url": confirmation.url,
        "verified": confirmation.verified,
        "proof": confirmation.proof,
    }


def _bounce_json(classification: Classification | None) -> dict[str, Any] | None:
    bounce = classification.bounce if classification else None
    if bounce is None:
        return None
    return {
        "status": bounce.status,
        "recipients": list(bounce.recipients),
        "original_message_id": bounce.original_message_id,
    }


def _attachments_json(parsed: ParsedMessage | None) -> list[dict[str, Any]]:
    if parsed is None:
        return []
    return [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in parsed.attachments
    ]


def _authentication_json(
    auth: AuthenticationResult | None, parsed: ParsedMessage | None
) -> dict[str, Any] | None:
    if auth is None:
        return None
    return {
        "spf": auth.spf,
        "dkim": [
            {"domain": d.domain, "selector": d.selector, "result": d.result, "reason": d.reason}
            for d in auth.dkim
        ],
        "arc": auth.arc,
        "dmarc": auth.dmarc,
        "dmarc_policy": auth.dmarc_policy,
        "disposition_reason": auth.disposition_reason,
        "header": auth.header,
        "claims_of_ours": _claims_of_ours(parsed),
    }


def _recipient(raw: bytes, given: str | None) -> EmailAddress:
    if given:
        return EmailAddress.parse(given)
    parsed = parse_message(raw)
    return parsed.to[0] if parsed.to else EmailAddress.parse(_FALLBACK_RECIPIENT)


@attrs.frozen(kw_only=True)
class _Options:
    """What :func:`inspect_message` takes besides the bytes, for every message of a run."""

    recipient: str | None = None
    team_addresses: Sequence[str] = ()
    mail_from: str | None = None
    client_ip: str | None = None
    helo: str | None = None
    max_size: int | None = None
    dns: DnsResolver | None = None
    trusted_forwarders: Sequence[str] = ()
    now: datetime = attrs.field(factory=lambda: datetime.now(UTC))
    mailbox_export: bool = False

    def inspect(self, source: MessageSource) -> IntakeResult:
        """One message, its envelope sender rebuilt as ``inboxcore ingest`` rebuilds it (the
        topmost Return-Path, else the mbox ``From `` line) unless ``mail_from`` was given."""
        raw = source.load()
        sender = self.mail_from
        if sender is None:
            sender = envelope_sender(raw, source.from_line)
        return inspect_message(
            raw,
            recipient=self.recipient,
            team_addresses=self.team_addresses,
            mail_from=sender,
            client_ip=self.client_ip,
            helo=self.helo,
            max_size=self.max_size,
            dns=self.dns,
            trusted_forwarders=self.trusted_forwarders,
            now=self.now,
            mailbox_export=self.mailbox_export,
        )


def inspect_files(
    paths: Sequence[Path],
    *,
    recipient: str | None = None,
    team_addresses: Sequence[str] = (),
    mail_from: str | None = None,
    client_ip: str | None = None,
    helo: str | None = None,
    max_size: int | None = None,
    dns: DnsResolver | None = None,
    trusted_forwarders: Sequence[str] = (),
    now: datetime | None = None,
    mailbox_export: bool = False,
) -> list[tuple[str, IntakeResult]]:
    """Run intake on every message under ``paths`` with in-memory adapters
    (:func:`inspect_message`), read as ``inboxcore ingest`` reads them: a file, an mbox (each
    message labelled ``file#n``), a Maildir or a folder of them (``inboxcore.cli._sources``).
    Returns (label, result) pairs in order. Raises OSError naming the first path that cannot be
    read.

    ``mailbox_export``: the files come from the team's own mailbox (the operator's word, which
    stands in for proof of the team's addresses)."""
    options = _Options(
        recipient=recipient,
        team_addresses=team_addresses,
        mail_from=mail_from,
        client_ip=client_ip,
        helo=helo,
        max_size=max_size,
        dns=dns,
        trusted_forwarders=trusted_forwarders,
        now=now or datetime.now(UTC),
        mailbox_export=mailbox_export,
    )
    with collect_sources(paths) as sources:
        if sources.problems:
            raise OSError(f"cannot read {sources.problems[0]}")
        return [(source.label, options.inspect(source)) for source in sources.messages]


def inspect_message(
    raw: bytes,
    *,
    recipient: str | None = None,
    team_addresses: Sequence[str] = (),
    mail_from: str | None = None,
    client_ip: str | None = None,
    helo: str | None = None,
    max_size: int | None = None,
    dns: DnsResolver | None = None,
    trusted_forwarders: Sequence[str] = (),
    now: datetime | None = None,
    mailbox_export: bool = False,
) -> IntakeResult:
    """Run intake on one message through a throwaway channel whose forwarding address is
    ``recipient`` (default: the message's first To), with in-memory adapters. Never raises for a
    bad message; a ``recipient`` or team address that is not an address raises
    :class:`~inboxcore.domain.errors.InvalidEmailAddress`."""
    clock = FakeClock(now or datetime.now(UTC))
    teams = [EmailAddress.parse(a).key for a in team_addresses]
    address = _recipient(raw, recipient)
    storage, raw_store = InMemoryStorage(), InMemoryRawStore()
    intake = IntakeSettings(trusted_forwarders=tuple(trusted_forwarders))
    if max_size is not None:
        intake = attrs.evolve(intake, max_message_size=max_size)
    channel = Channel(
        id=ChannelId("inspect"),
        account_id=AccountId("inspect"),
        name="inspect",
        forwarding_address=address.untagged,
        created_at=clock.now(),
        state=ChannelState.CONNECTED,
        intake=intake,
    )
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("inspect"), name="inspect", subdomain="inspect"))
        uow.channels.add(channel)
        uow.commit()
    envelope = Envelope(
        received_at=clock.now(),
        mail_from=mail_from,
        rcpt_to=(address.address,),
        client_ip=client_ip,
        helo=helo,
    )
    config = IntakeConfig(
        max_message_size=max_size or IntakeConfig().max_message_size,
        authentication=AuthenticationConfig(authserv_id=_AUTHSERV_ID),
    )
    ports = IntakePorts(storage=storage, raw_store=raw_store, clock=clock, dns=dns)
    return ingest(
        raw,
        envelope,
        ports=ports,
        config=config,
        team_addresses=teams,
        forwarding_path=MAILBOX_EXPORT if mailbox_export else None,
    )


def _explain(label: str, result: IntakeResult, out: TextIO) -> None:
    """The report of one message for people: the verdict and its reasons first, then the
    report's fields as indented ``name: value`` lines (the same fields as ``--json``)."""
    data = report(label, result)
    out.write(f"{label}: {result.disposition.value.upper()} ({result.smtp})\n")
    for reason in result.reasons:
        out.write(f"  - {reason.code}: {reason.message}\n")
    for key in _PLAIN_FIELDS:
        _write_field(out, key, data.get(key), "  ")


_PLAIN_FIELDS = (
    "kind",
    "message_id",
    "subject",
    "date",
    "sender",
    "forwarder",
    "header_from",
    "list_id",
    "forwarding_confirmation",
    "bounce",
    "authentication",
    "attachments",
    "defects",
)


def _write_field(out: TextIO, key: str, value: Any, indent: str) -> None:
    """``key: value`` for people: nothing for an empty value, a nested block for a mapping, one
    line per item of a list of mappings, words for booleans; never a Python repr."""
    if value is None or value == "" or value == [] or value == {}:
        return
    if isinstance(value, dict):
        if set(value) <= {"email", "name"}:  # an address
            out.write(f"{indent}{key}: {_mailbox(value)}\n")
            return
        out.write(f"{indent}{key}:\n")
        for name, item in value.items():
            _write_field(out, name, item, indent + "  ")
    elif isinstance(value, list) and all(isinstance(item, dict) for item in value):
        out.write(f"{indent}{key}:\n")
        for item in value:
            out.write(f"{indent}  - {_one_line(item)}\n")
    elif isinstance(value, list):
        out.write(f"{indent}{key}: {', '.join(str(item) for item in value)}\n")
    else:
        out.write(f"{indent}{key}: {_scalar(value)}\n")


def _mailbox(value: dict[str, Any]) -> str:
    return f"{value['name']} <{value['email']}>" if value.get("name") else str(value["email"])


def _one_line(item: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {_scalar(v)}" for k, v in item.items() if v not in (None, ""))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def run_inspect(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Carry out ``inboxcore inspect``; returns the exit status.

    Every readable message is reported; a path or message that cannot be read is named on
    stderr and makes the status 1.
    """
    try:
        options = _options_from(args)
    except (InvalidEmailAddress, InvalidValueError) as exc:
        err.write(f"inboxcore inspect: {exc}\n")
        return 2
    status = 0
    with collect_sources(args.files) as sources:
        for problem in sources.problems:
            err.write(f"inboxcore inspect: cannot read {problem}\n")
            status = 1
        for source in sources.messages:
            try:
                result = options.inspect(source)
            except OSError as exc:
                err.write(f"inboxcore inspect: cannot read {source.label}: {exc.strerror}\n")
                status = 1
                continue
            if args.json:
                out.write(json.dumps(report(source.label, result), ensure_ascii=False) + "\n")
            else:
                _explain(source.label, result, out)
            out.flush()
    return status


def _options_from(args: argparse.Namespace) -> _Options:
    """The run's options from the flags; raises for a flag value that is not usable."""
    dns = dns_from_args(args)
    for address in [args.recipient, *args.team_address]:
        if address is not None:
            EmailAddress.parse(address)
    return _Options(
        recipient=args.recipient,
        team_addresses=args.team_address,
        mail_from=args.mail_from,
        client_ip=args.client_ip,
        helo=args.helo,
        max_size=args.max_size,
        dns=dns,
        trusted_forwarders=args.trusted_forwarder,
        mailbox_export=args.mailbox_export,
    )
