"""``inboxcore demo``: a throwaway inbox built from the sample messages shipped in the package.

The demo is what a developer runs first: it creates an inbox in a temporary folder for the
fictional Acme with two agents and a channel that assigns new conversations in turn, feeds it the
messages in ``inboxcore/samples/`` (in name order, the order they "arrived"), and prints what
became of each message, the conversations with their contacts and assignees, and the tickets. It
needs no network (DNS is off, so authentication results are ``none``) and leaves nothing behind
unless ``--keep`` is given.

With DNS off nothing is proven, so the demo speaks for its samples as an operator speaks for a
mailbox export (``inboxcore ingest --mailbox-export``): they came through the channel's configured
forwarding path, so the team's own addresses (the agent's forward, the team's Google Group) are
believed. That word stands in for the team only: the provider's confirmation stays unverified,
its link not presented as Google's, as any confirmation is without DNS.

The samples are written for the demo and cover what a shared inbox meets in its first hour: the
provider's forwarding confirmation, a customer's mail forwarded by Gmail, an agent's manual
Outlook forward in German (the contact is the customer inside, not the agent), the customer's
reply (joins the conversation), an out-of-office and a bounce (notices, never tickets), the same
mail delivered twice (a duplicate), and a Google Groups post (the poster, not the group).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TextIO

from inboxcore.app.service import Delivery
from inboxcore.cli._inbox import create_inbox
from inboxcore.cli._ingest import ingest_sources
from inboxcore.cli._sources import MessageSource
from inboxcore.cli._spec import AgentSpec, ChannelSpec, InboxSpec, parse_agent
from inboxcore.cli._views import conversation_rows, ticket_rows, write_conversations, write_tickets
from inboxcore.domain.errors import InboxcoreError
from inboxcore.domain.model import RoutingMode

__all__ = ["DEMO_PATH", "DEMO_SPEC", "add_demo_arguments", "run_demo", "sample_sources"]

DEMO_PATH = "the demo's word that its samples came through the channel's forwarding path"
"""What vouches for the team's addresses in the demo's samples, as reasons name it."""

DEMO_SPEC = InboxSpec(
    account="Acme",
    message_id_domain="acme.inbox.example.net",
    agents=tuple(
        AgentSpec(name=name, email=email)
        for name, email in (
            parse_agent("Anna Berg <anna.berg@acme.example>"),
            parse_agent("Jonas Weber <jonas.weber@acme.example>"),
        )
    ),
    channels=(
        ChannelSpec(
            address="support-7f3k@acme.inbox.example.net",
            name="Support",
            company_name="Acme Support",
            team_addresses=("support@acme.example",),
            routing=RoutingMode.USERS_AND_TEAMS,
            priority="normal",
        ),
    ),
)
"""The demo's inbox: Acme, two agents taking new conversations in turn, tickets on."""


def _samples() -> Traversable:
    return resources.files("inboxcore").joinpath("samples")


def sample_sources() -> list[MessageSource]:
    """The shipped sample messages, in name order."""
    files = sorted(
        (f for f in _samples().iterdir() if f.name.endswith(".eml")), key=lambda f: f.name
    )
    return [MessageSource(label=f.name, load=f.read_bytes) for f in files]


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo inbox and print its path (to explore it with the other commands)",
    )


def _line(source: MessageSource, delivery: Delivery) -> str:
    codes = ", ".join(delivery.reason_codes[:2]) or "-"
    where = ""
    if delivery.conversation_id is not None:
        where = f" -> {delivery.conversation_id}{' (new)' if delivery.conversation_created else ''}"
    return f"  {source.label:<40} {delivery.disposition.value:<12} {codes}{where}\n"


def _run(folder: Path, out: TextIO) -> Path:
    db = folder / "inbox.db"
    with create_inbox(db, DEMO_SPEC) as inbox:
        channel = inbox.channels()[0]
        out.write(
            f"A throwaway inbox for {inbox.account().name}: channel {channel.name} receives at "
            f"{channel.forwarding_address.address},\nnew conversations go to "
            f"{' and '.join(u.full_name for u in inbox.settings.users)} in turn.\n\n"
        )
        sources = sample_sources()
        out.write(f"Ingesting {len(sources)} sample messages:\n")

        def report(source: MessageSource, delivery: Delivery) -> None:
            out.write(_line(source, delivery))

        summary = ingest_sources(inbox, sources, on_delivery=report, forwarding_path=DEMO_PATH)
        out.write("\n")
        summary.write_table(out)
        out.write("\nConversations\n")
        write_conversations(out, conversation_rows(inbox))
        out.write("\nTickets\n")
        write_tickets(out, ticket_rows(inbox))
    return db


def run_demo(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out ``inboxcore demo``: 0 when the demo ran, 1 when it could not."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        if args.keep:
            folder = Path(tempfile.mkdtemp(prefix="inboxcore-demo-"))
            db = _run(folder, out)
            out.write(
                f"\nThe inbox is kept at {db}. Explore it:\n"
                f"  inboxcore --db {db} conversations\n"
                f"  inboxcore --db {db} show ID\n"
            )
        else:
            with tempfile.TemporaryDirectory(prefix="inboxcore-demo-") as name:
                _run(Path(name), out)
    except (InboxcoreError, OSError) as exc:
        err.write(f"inboxcore demo: {exc}\n")
        return 1
    return 0
