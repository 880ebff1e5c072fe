"""The from-name of a channel's replies, and the names it is made of (private to
:mod:`inboxcore.channels`, which re-exports what is public here).

A from-name is rendered from a template (:class:`FromNameFormats`, :func:`render_from_name`); the
company name and the channel's name it shows are checked by the ``check_*`` functions, which return
every :class:`~inboxcore.domain.errors.Problem` at once.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from typing import Final

import attrs

from inboxcore.domain.errors import ConfigurationError, Problem
from inboxcore.domain.model import Channel, ChannelState, FromNameMode, User, from_name_key

__all__ = [
    "FromNameFormats",
    "MAX_CHANNEL_NAME_LENGTH",
    "MAX_COMPANY_LENGTH",
    "check_channel_name",
    "check_company_name",
    "check_from_name_available",
    "check_from_name_format",
    "render_from_name",
    "template_fields",
]


def template_fields(template: str) -> tuple[set[str], str | None]:
    """The replacement fields of a ``str.format`` template, or the reason it does not parse."""
    fields: set[str] = set()
    try:
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                continue
            if spec or conversion:
                return fields, f"{{{name}}} may not carry a format spec or conversion"
            fields.add(name)
    except ValueError as exc:
        return fields, str(exc)
    return fields, None


_FROM_NAME_FIELDS: Final = frozenset(
    {"agent_first_name", "agent_last_name", "agent_full_name", "company"}
)
_AGENT_FIELDS: Final = frozenset({"agent_first_name", "agent_last_name", "agent_full_name"})
MAX_COMPANY_LENGTH: Final = 100


@attrs.frozen(kw_only=True)
class FromNameFormats:
    """How each :class:`~inboxcore.domain.model.FromNameMode` renders the display name.

    Templates use ``{agent_first_name}``, ``{agent_last_name}``, ``{agent_full_name}`` and
    ``{company}``. When a template needs an agent's name the agent does not have, the company
    format is used instead, so a contact never sees " from Acme".
    """

    agent_and_company: str = "{agent_first_name} from {company}"
    company: str = "{company}"

    def __attrs_post_init__(self) -> None:
        problems = check_from_name_format(self.agent_and_company, "agent_and_company")
        problems += check_from_name_format(self.company, "company")
        if problems:
            raise ConfigurationError(problems)


def check_from_name_format(template: str, field: str = "from_name_format") -> tuple[Problem, ...]:
    """Problems with a from-name format: syntax and unknown fields."""
    fields, error = template_fields(template)
    if error is not None:
        return (Problem(code="from_name.format_syntax", message=error, field=field),)
    unknown = sorted(fields - _FROM_NAME_FIELDS)
    if unknown:
        return (
            Problem(
                code="from_name.format_unknown_field",
                message=f"unknown fields {unknown}; use {sorted(_FROM_NAME_FIELDS)}",
                field=field,
            ),
        )
    return ()


def _one_line(text: str) -> str:
    """Text fit for a header: control characters gone, white space collapsed."""
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(cleaned.split())


def render_from_name(
    channel: Channel, agent: User | None, formats: FromNameFormats | None = None
) -> str:
    """The display name a contact sees for a reply by ``agent`` (None: no agent, e.g. a bot).

    One line, white space collapsed, no control characters: safe for a header.
    """
    formats = formats or FromNameFormats()
    values = {
        "agent_first_name": _one_line(agent.first_name) if agent else "",
        "agent_last_name": _one_line(agent.last_name) if agent else "",
        "agent_full_name": _one_line(agent.full_name) if agent else "",
        "company": _one_line(channel.company_name),
    }
    template = formats.company
    if channel.from_name_mode is FromNameMode.AGENT_AND_COMPANY:
        fields, _ = template_fields(formats.agent_and_company)
        needed = fields & _AGENT_FIELDS
        if all(values[f] for f in needed):
            template = formats.agent_and_company
    return _one_line(template.format_map(values))


MAX_CHANNEL_NAME_LENGTH: Final = 100


def check_channel_name(name: str) -> tuple[Problem, ...]:
    """Problems with a channel's name (shown in the inbox, the source of its address slug)."""
    shown = _one_line(name)
    if not shown:
        return (Problem(code="channel.name_required", message="enter a name", field="name"),)
    if len(shown) > MAX_CHANNEL_NAME_LENGTH:
        return (
            Problem(
                code="channel.name_too_long",
                message=f"at most {MAX_CHANNEL_NAME_LENGTH} characters",
                field="name",
            ),
        )
    return ()


def check_company_name(company: str) -> tuple[Problem, ...]:
    """Problems with the company name a from-name is made of."""
    field = "company_name"
    shown = _one_line(company)
    if not shown:
        return (
            Problem(code="from_name.company_required", message="enter a company name", field=field),
        )
    problems: list[Problem] = []
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in company):
        problems.append(
            Problem(
                code="from_name.control_characters",
                message="the name may not contain line breaks or invisible characters",
                field=field,
            )
        )
    if len(shown) > MAX_COMPANY_LENGTH:
        problems.append(
            Problem(
                code="from_name.too_long",
                message=f"at most {MAX_COMPANY_LENGTH} characters",
                field=field,
            )
        )
    if "@" in shown or "<" in shown or ">" in shown:
        problems.append(
            Problem(
                code="from_name.looks_like_address",
                message="a from-name may not contain '@', '<' or '>': mail clients would show "
                "it as an address, and filters treat that as spoofing",
                field=field,
            )
        )
    return tuple(problems)


def check_from_name_available(
    channel: Channel, company: str, others: Iterable[Channel]
) -> tuple[Problem, ...]:
    """Whether another live channel of the account already uses this from-name.

    Compared by :func:`~inboxcore.domain.model.from_name_key` (NFKC, case folding, collapsed space);
    disconnected channels no longer hold their name.
    """
    key = from_name_key(company)
    if not key:
        return ()
    for other in others:
        if (
            other.id != channel.id
            and other.account_id == channel.account_id
            and other.state is not ChannelState.DISCONNECTED
            and other.from_name_key == key
        ):
            return (
                Problem(
                    code="from_name.taken",
                    message=f"the from-name {company.strip()!r} is already used by the channel "
                    f"{other.name!r}",
                    field="company_name",
                ),
            )
    return ()
