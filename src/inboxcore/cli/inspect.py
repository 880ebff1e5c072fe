"""``inboxcore inspect``: run intake on message files and explain each verdict.

Each file is run on its own, through in-memory adapters: a channel is set up whose forwarding
address is ``--recipient`` (default: the message's first To address), with the team addresses
given by ``--team-address``. DNS comes from ``--dns-zone FILE`` (a static zone), the system
resolver (``--dns system``, the default) or nowhere (``--offline``: authentication results are
``none``, so nothing is proven: a team member's forward is not unwrapped, and a provider's
forwarding confirmation is reported unverified). ``--mailbox-export`` is the operator's word that
the files come from the team's own mailbox, standing in for proof of the team's addresses. With
``--json`` it prints one JSON object per file, one per line, in the order given; the schema is in
``docs/inspect-json.md``. The exit status is 0 whatever the verdicts, 2 for usage errors and 1
when a file cannot be read.
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

from inboxcore.adapters.dns_static import StaticResolver
from inboxcore.auth.authentication import AuthenticationConfig
from inboxcore.auth.results import claims_authserv_id, incoming_results
from inboxcore.cli.ingest import MAILBOX_EXPORT
from inboxcore.cli.options import count, email_address, ip_address, mail_from
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress, InvalidValueError
from inboxcore.domain.ids import AccountId, ChannelId
from inboxcore.domain.model import Account, Channel, ChannelState, Envelope, IntakeSettings
from inboxcore.ingest import IntakeConfig, IntakePorts, IntakeResult, ingest
from inboxcore.mail.parsing import ParsedMessage, parse_message
from inboxcore.ports import DnsResolver
from inboxcore.testing import FakeClock, InMemoryRawStore, InMemoryStorage

__all__ = ["add_inspect_arguments", "inspect_files", "inspect_message", "report", "run_inspect"]

_FALLBACK_RECIPIENT = "inspect@inbox.invalid"
_AUTHSERV_ID = AuthenticationConfig().authserv_id
"""Ours, as a service with the default configuration writes it (``inspect`` runs one)."""


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, help="message files (.eml)")
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
    dns = parser.add_mutually_exclusive_group()
    dns.add_argument("--dns-zone", type=Path, metavar="FILE", help="answer DNS from a JSON zone")
    dns.add_argument("--dns", choices=["system"], help="use the system resolver (the default)")
    dns.add_argument("--offline", action="store_true", help="no DNS: authentication is 'none'")
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
    parser.add_argument("--json", action="store_true", help="one JSON object per file and line")


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
    """The inspect JSON object for one file (schema: docs/inspect-json.md)."""
    parsed = result.parsed
    classification = result.classification
    sender = result.sender
    auth = result.authentication
    header_from = parsed.from_[0] if parsed is not None and parsed.from_ else None
    confirmation = classification.forwarding_confirmation if classification else None
    bounce = classification.bounce if classification else None
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
        "sender": (
            {
                "email": sender.sender.address,
                "name": sender.sender.display_name,
                "source": sender.source.value,
                "team_member": sender.team_member.address if sender.team_member else None,
                "reasons": [{"code": r.code, "message": r.message} for r in sender.reasons],
            }
            if sender and sender.sender
            else None
        ),
        "forwarder": _address(sender.forwarder) if sender else None,
        "header_from": _address(header_from),
        "list_id": parsed.list_id if parsed else None,
        "forwarding_confirmation": (
            {
                "provider": confirmation.provider,
                "requesting_address": confirmation.requesting_address,
                "code": confirmation.code,
                "url": confirmation.url,
                "verified": confirmation.verified,
                "proof": confirmation.proof,
            }
            if confirmation
            else None
        ),
        "bounce": (
            {
                "status": bounce.status,
                "recipients": list(bounce.recipients),
                "original_message_id": bounce.original_message_id,
            }
            if bounce
            else None
        ),
        "attachments": (
            [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in parsed.attachments
            ]
            if parsed
            else []
        ),
        "defects": list(parsed.defects) if parsed else [],
        "authentication": (
            {
                "spf": auth.spf,
                "dkim": [
                    {
                        "domain": d.domain,
                        "selector": d.selector,
                        "result": d.result,
                        "reason": d.reason,
                    }
                    for d in auth.dkim
                ],
                "arc": auth.arc,
                "dmarc": auth.dmarc,
                "dmarc_policy": auth.dmarc_policy,
                "disposition_reason": auth.disposition_reason,
                "header": auth.header,
                "claims_of_ours": _claims_of_ours(parsed),
            }
            if auth
            else None
        ),
    }


def _recipient(raw: bytes, given: str | None) -> EmailAddress:
    if given:
        return EmailAddress.parse(given)
    parsed = parse_message(raw)
    return parsed.to[0] if parsed.to else EmailAddress.parse(_FALLBACK_RECIPIENT)


def _system_dns() -> DnsResolver:
    from inboxcore.adapters.dns_dnspython import DnspythonResolver

    return DnspythonResolver()


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
) -> list[tuple[Path, IntakeResult]]:
    """Run intake on each file with in-memory adapters (:func:`inspect_message`). Raises OSError
    for an unreadable file.

    ``mailbox_export``: the files come from the team's own mailbox (the operator's word, which
    stands in for proof of the team's addresses)."""
    at = now or datetime.now(UTC)
    return [
        (
            path,
            inspect_message(
                path.read_bytes(),
                recipient=recipient,
                team_addresses=team_addresses,
                mail_from=mail_from,
                client_ip=client_ip,
                helo=helo,
                max_size=max_size,
                dns=dns,
                trusted_forwarders=trusted_forwarders,
                now=at,
                mailbox_export=mailbox_export,
            ),
        )
        for path in paths
    ]


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


def _explain(path: Path, result: IntakeResult, out: TextIO) -> None:
    data = report(str(path), result)
    out.write(f"{path}: {result.disposition.value.upper()} ({result.smtp})\n")
    for reason in result.reasons:
        out.write(f"  - {reason.code}: {reason.message}\n")
    for key in ("kind", "message_id", "subject", "date", "sender", "forwarder", "list_id"):
        if data.get(key) is not None:
            out.write(f"  {key}: {data[key]}\n")
    for key in ("forwarding_confirmation", "bounce", "authentication"):
        if data.get(key):
            out.write(f"  {key}: {json.dumps(data[key], ensure_ascii=False)}\n")
    if data["attachments"]:
        out.write(f"  attachments: {len(data['attachments'])}\n")
    if data["defects"]:
        out.write(f"  defects: {', '.join(data['defects'])}\n")


def run_inspect(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Carry out ``inboxcore inspect``; returns the exit status.

    Every readable file is reported; an unreadable one is named on stderr and makes the status 1.
    """
    try:
        if args.offline:
            dns: DnsResolver | None = None
        elif args.dns_zone is not None:
            dns = StaticResolver.from_file(args.dns_zone)
        else:
            dns = _system_dns()
        for address in [args.recipient, *args.team_address]:
            if address is not None:
                EmailAddress.parse(address)
    except (InvalidEmailAddress, InvalidValueError) as exc:
        err.write(f"inboxcore inspect: {exc}\n")
        return 2
    status = 0
    for path in args.files:
        try:
            ((_, result),) = inspect_files(
                [path],
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
        except OSError as exc:
            err.write(f"inboxcore inspect: cannot read {path}: {exc.strerror}\n")
            status = 1
            continue
        if args.json:
            out.write(json.dumps(report(str(path), result), ensure_ascii=False) + "\n")
        else:
            _explain(path, result, out)
        out.flush()
    return status
