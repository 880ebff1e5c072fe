"""The ``inboxcore`` command: an embedded SQLite inbox to try and to run inboxcore for real.

``inboxcore init`` creates the inbox (``--db``, default ``inbox.db`` in the current directory)
from flags or a TOML file; ``ingest`` feeds it stored mail, ``serve`` live mail over LMTP/SMTP;
``conversations``, ``tickets`` and ``show`` list what it holds; ``quarantine``, ``release`` and
``recover`` deal with mail held back or never recorded; ``inspect`` explains verdicts
without any inbox; ``demo`` does it all in a throwaway folder with the sample messages shipped in
the package. The reference is ``docs/cli.md``.

Exit status: 0 success, 1 a runtime failure (no inbox, storage error, unreadable input), 2 a
usage error (bad flags, a bad configuration), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import attrs

from inboxcore import __version__
from inboxcore.cli._inbox import DEFAULT_DB, create_inbox
from inboxcore.cli._ingest import add_ingest_arguments, run_ingest
from inboxcore.cli._options import ClosedPipeTolerant, count, missing_extra
from inboxcore.cli._quarantine import (
    add_discard_arguments,
    add_quarantine_arguments,
    add_release_arguments,
    run_discard,
    run_quarantine,
    run_release,
)
from inboxcore.cli._recover import add_recover_arguments, run_recover
from inboxcore.cli._serve import add_serve_command, run_serve
from inboxcore.cli._spec import AgentSpec, ChannelSpec, InboxSpec, parse_agent, spec_from_toml
from inboxcore.cli._views import (
    add_conversations_arguments,
    add_show_arguments,
    add_tickets_arguments,
    run_conversations,
    run_show,
    run_tickets,
)
from inboxcore.cli.inspect import add_inspect_arguments, run_inspect
from inboxcore.domain.errors import (
    ConfigurationError,
    InboxcoreError,
    InvalidEmailAddress,
    Problem,
)
from inboxcore.domain.model import DmarcFailureAction, RoutingMode

__all__ = ["add_init_arguments", "build_parser", "main", "run_init", "spec_from_args"]

# Flags of `init` that describe the inbox; with --config they would compete with the file.
_SPEC_FLAGS = (
    "account",
    "agent",
    "channel_address",
    "channel_name",
    "company_name",
    "team_address",
    "routing",
    "route_to",
    "fallback",
    "max_open_per_agent",
    "tickets",
    "ticket_pipeline",
    "ticket_priority",
    "trusted_forwarder",
    "max_size",
    "dmarc_failure_action",
    "message_id_domain",
)


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="a TOML file describing the inbox"
    )
    parser.add_argument("--account", metavar="NAME", help="the company's name (default: Acme)")
    parser.add_argument(
        "--agent",
        action="append",
        metavar='"NAME <EMAIL>"',
        help="an agent of the team (repeatable)",
    )
    parser.add_argument(
        "--channel-address", metavar="ADDR", help="the forwarding address the inbox receives at"
    )
    parser.add_argument("--channel-name", metavar="NAME", help="the channel's name (Support)")
    parser.add_argument(
        "--company-name", metavar="NAME", help="the from-name's company (default: the account)"
    )
    parser.add_argument(
        "--team-address",
        action="append",
        metavar="ADDR",
        help="the team's own mailbox that forwards to the channel (repeatable)",
    )
    _add_channel_arguments(parser)


def _add_channel_arguments(parser: argparse.ArgumentParser) -> None:
    """How the channel routes, makes tickets and takes mail in."""
    parser.add_argument(
        "--routing",
        choices=[m.value for m in RoutingMode],
        help="who gets new conversations (default: unassigned)",
    )
    parser.add_argument(
        "--route-to",
        action="append",
        metavar="EMAIL",
        help="an agent new conversations go to, in turn (repeatable; default: every agent)",
    )
    parser.add_argument(
        "--fallback",
        choices=[m.value for m in RoutingMode],
        help="where a conversation goes when routing finds nobody (default: unassigned)",
    )
    parser.add_argument(
        "--max-open-per-agent", type=count, metavar="N", help="skip agents with N open"
    )
    parser.add_argument(
        "--tickets",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make a ticket of every new conversation (default: on)",
    )
    parser.add_argument("--ticket-pipeline", metavar="NAME", help="tickets' pipeline (support)")
    parser.add_argument("--ticket-priority", metavar="NAME", help="tickets' starting priority")
    parser.add_argument(
        "--trusted-forwarder",
        action="append",
        metavar="DOMAIN",
        help="an ARC sealer trusted to vouch for forwarded mail (repeatable)",
    )
    parser.add_argument(
        "--max-size", type=count, metavar="BYTES", help="the size limit (default: 30 MB)"
    )
    parser.add_argument(
        "--dmarc-failure-action",
        choices=[a.value for a in DmarcFailureAction],
        help="mail failing a strict DMARC policy (default: quarantine)",
    )
    parser.add_argument(
        "--message-id-domain",
        metavar="DOMAIN",
        help="the domain of our own Message-IDs (default: the channel address's domain)",
    )


def spec_from_args(args: argparse.Namespace) -> InboxSpec:
    """The inbox the flags describe; ConfigurationError/InvalidEmailAddress for bad values."""
    agents = []
    for i, text in enumerate(args.agent or ()):
        try:
            name, email = parse_agent(text)
        except InvalidEmailAddress as exc:
            problem = Problem(code="config.invalid", message=str(exc), field=f"agents[{i}]")
            raise ConfigurationError([problem]) from exc
        agents.append(AgentSpec(name=name, email=email))
    channels = []
    if args.channel_address is not None:
        channels.append(
            ChannelSpec(
                address=args.channel_address,
                name=args.channel_name or "Support",
                company_name=args.company_name,
                team_addresses=tuple(args.team_address or ()),
                routing=RoutingMode(args.routing or RoutingMode.UNASSIGNED.value),
                route_to_users=tuple(args.route_to or ()),
                fallback=RoutingMode(args.fallback or RoutingMode.UNASSIGNED.value),
                max_open_per_agent=args.max_open_per_agent,
                tickets=args.tickets if args.tickets is not None else True,
                pipeline=args.ticket_pipeline or "support",
                priority=args.ticket_priority,
                trusted_forwarders=tuple(args.trusted_forwarder or ()),
                **({"max_message_size": args.max_size} if args.max_size else {}),
                dmarc_failure_action=DmarcFailureAction(
                    args.dmarc_failure_action or DmarcFailureAction.QUARANTINE.value
                ),
            )
        )
    return InboxSpec(
        account=args.account or "Acme",
        message_id_domain=args.message_id_domain,
        agents=tuple(agents),
        channels=tuple(channels),
    )


# Where a problem with an inbox described by flags lies, named by its flag (a TOML file's
# problems keep the file's own field names).
_FLAG_OF_FIELD = (
    (re.compile(r"^channels\[\d+\]\.address$"), "--channel-address"),
    (re.compile(r"^channels\[\d+\]\.name$"), "--channel-name"),
    (re.compile(r"^channels\[\d+\]\.(company_name|from_name)"), "--company-name"),
    (re.compile(r"^channels\[\d+\]\.team_addresses"), "--team-address"),
    (re.compile(r"^channels\[\d+\]\.routing\.users"), "--route-to"),
    (re.compile(r"^channels\[\d+\]\.routing"), "--routing"),
    (re.compile(r"^channels\[\d+\]\.trusted_forwarders"), "--trusted-forwarder"),
    (re.compile(r"^channels\[\d+\]\.max_message_size"), "--max-size"),
    (re.compile(r"^channels$"), "--channel-address"),
    (re.compile(r"^agents"), "--agent"),
    (re.compile(r"^account"), "--account"),
    (re.compile(r"^message_id_domain"), "--message-id-domain"),
)


def _flag_of(field: str) -> str:
    return next((flag for rule, flag in _FLAG_OF_FIELD if rule.search(field)), field)


def _write_problems(
    err: TextIO, command: str, error: ConfigurationError, *, flags: bool = False
) -> None:
    err.write(f"inboxcore {command}: the inbox was not created:\n")
    for problem in error.problems:
        field = _flag_of(problem.field) if flags and problem.field else problem.field
        where = f"{field}: " if field else ""
        err.write(f"  - {where}{problem.message} ({problem.code})\n")


def run_init(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out ``inboxcore init``: 0 created, 1 could not write, 2 bad flags or config."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    given = [f for f in _SPEC_FLAGS if getattr(args, f) is not None]
    try:
        if args.config is not None:
            if given:
                flags = ", ".join("--" + f.replace("_", "-") for f in given)
                err.write(f"inboxcore init: give either --config or flags, not both ({flags})\n")
                return 2
            try:
                data = tomllib.loads(args.config.read_text(encoding="utf-8"))
            except OSError as exc:
                err.write(f"inboxcore init: cannot read {args.config}: {exc.strerror}\n")
                return 2
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                err.write(f"inboxcore init: {args.config} is not valid TOML: {exc}\n")
                return 2
            spec = spec_from_toml(data)
        else:
            spec = spec_from_args(args)
    except ConfigurationError as exc:
        _write_problems(err, "init", exc, flags=args.config is None)
        return 2
    except InvalidEmailAddress as exc:
        err.write(f"inboxcore init: {exc}\n")
        return 2
    try:
        inbox = create_inbox(args.db, spec)
    except ConfigurationError as exc:
        _write_problems(err, "init", exc, flags=args.config is None)
        return 1 if any(p.code == "inbox.exists" for p in exc.problems) else 2
    except InboxcoreError as exc:
        err.write(f"inboxcore init: {exc}\n")
        return 1
    with inbox:
        channels = inbox.channels()
        account = inbox.account()
        out.write(f"Created the inbox {inbox.path} for {account.name}.\n")
        for user in inbox.settings.users:
            out.write(f"  agent    {user.full_name} <{user.email.address}>\n")
        for channel in channels:
            out.write(
                f"  channel  {channel.name}: receives at {channel.forwarding_address.address}, "
                f"routing {channel.routing.mode.value}, "
                f"tickets {'on' if channel.tickets.enabled else 'off'}\n"
            )
        db = "" if str(args.db) == DEFAULT_DB else f" --db {args.db}"
        out.write(
            "\nForward the team's mailbox to that address, then feed stored mail with\n"
            f"  inboxcore{db} ingest PATH...\nor receive live mail with\n"
            f"  inboxcore{db} serve --lmtp 127.0.0.1:8024\n"
        )
    return 0


def _add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    from inboxcore.cli._demo import add_demo_arguments

    add_demo_arguments(parser)


def _run_demo(args: argparse.Namespace) -> int:
    from inboxcore.cli._demo import run_demo

    return run_demo(args)


@attrs.frozen
class _Command:
    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# The commands in the order of `inboxcore --help`; `serve` registers itself (after `inspect`).
_COMMAND_TABLE = (
    _Command(
        "init",
        "create the inbox: account, agents, channel",
        "Create the --db inbox with an account, agents and a channel, from flags or from a TOML "
        "file (--config).",
        add_init_arguments,
        run_init,
    ),
    _Command(
        "ingest",
        "feed .eml files, folders, mbox files and Maildirs into the inbox",
        "Run stored mail through the inbox as if the mail server had delivered it, then print a "
        "summary of the verdicts.",
        add_ingest_arguments,
        run_ingest,
    ),
    _Command(
        "conversations",
        "list the conversations",
        "List the inbox's conversations, most recent activity first.",
        add_conversations_arguments,
        run_conversations,
    ),
    _Command(
        "tickets",
        "list the tickets",
        "List the inbox's tickets, most recently updated first.",
        add_tickets_arguments,
        run_tickets,
    ),
    _Command(
        "show",
        "show one conversation with its ticket and messages",
        "Show one conversation (by its id, its ticket's id, or a unique start of either) with "
        "its ticket and messages.",
        add_show_arguments,
        run_show,
    ),
    _Command(
        "quarantine",
        "list the messages held back, and why",
        "List the messages the checks held back (authentication, spam, internal errors), oldest "
        "first, with the sender, subject and every reason.",
        add_quarantine_arguments,
        run_quarantine,
    ),
    _Command(
        "release",
        "let in a message the checks held back",
        "Let a held message into the inbox because you trust it; the checks' reasons stay on "
        "record beside 'released'.",
        add_release_arguments,
        run_release,
    ),
    _Command(
        "discard",
        "drop a held message you do not want, on record",
        "Take a held message out of the quarantine list because it is not wanted (spam that got "
        "through, a file that was never mail). The decision is logged; the raw message stays "
        "stored.",
        add_discard_arguments,
        run_discard,
    ),
    _Command(
        "recover",
        "run the messages stored but never recorded",
        "Find the stored messages that no intake record lists (storage failed after they were "
        "stored and the mail server gave up retrying) and run each through the inbox as it was "
        "received. Safe from cron beside `inboxcore serve`.",
        add_recover_arguments,
        run_recover,
    ),
    _Command(
        "inspect",
        "run intake on message files and explain each verdict",
        "Run intake on message files with in-memory adapters and explain each verdict.",
        add_inspect_arguments,
        lambda args: run_inspect(args, sys.stdout, sys.stderr),
    ),
    _Command(
        "demo",
        "build a throwaway inbox from the shipped sample messages and show it",
        "Create an inbox in a temporary folder, ingest the sample messages shipped with "
        "inboxcore, and print the conversations, assignments and tickets. --db is ignored.",
        _add_demo_arguments,
        _run_demo,
    ),
)

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    **{command.name: command.run for command in _COMMAND_TABLE},
    "serve": lambda args: run_serve(args, sys.stderr),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inboxcore",
        description="The domain core of a helpdesk's hosted email inbox channel, "
        "run on an embedded SQLite inbox.",
    )
    parser.add_argument("--version", action="version", version=f"inboxcore {__version__}")
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(DEFAULT_DB),
        metavar="PATH",
        help=f"the inbox's SQLite file (default: {DEFAULT_DB} in the current directory)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMAND_TABLE:
        sub = commands.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(sub)
        if command.name == "inspect":
            add_serve_command(commands)
    for sub in commands.choices.values():
        # --db is the inbox of every command; it may also follow the command's name.
        sub.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    missing = missing_extra(args.command)
    if missing is not None:
        sys.stderr.write(missing + "\n")
        return 2
    original = sys.stdout
    sys.stdout = guarded = ClosedPipeTolerant(original)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        sys.stderr.write("inboxcore: interrupted\n")
        return 130
    finally:
        guarded.flush()
        sys.stdout = original


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
