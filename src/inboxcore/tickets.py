"""Tickets: one per new customer conversation, with statuses moved by a transition table.

By default every new customer conversation (not every message) opens one ticket, unless the
channel switched tickets off. Its properties come from the channel's
:class:`~inboxcore.domain.model.TicketTemplate`; its owner is the conversation's assignee; its name
is the
conversation's subject.

The status moves only through :data:`TICKET_TRANSITIONS`, a data table in the manner of h11: the
code, the docs' diagram (:func:`ticket_state_diagram`) and the tests read the same table.

- ``inbound_reply``: the contact wrote again. The ball is in our court: ``waiting_on_contact``
  and ``closed`` move to ``waiting_on_us`` (a closed ticket is reopened); a ``new`` ticket stays
  ``new``, because nobody has answered yet and ``new`` already means "waiting on us".
- ``agent_reply``: we answered; an open ticket waits on the contact. A reply to a closed ticket
  (the "thanks, closing this" message sent after closing) leaves it closed.
- ``close``: an agent (or the conversation being closed) closes it; not allowed twice.
- ``reopen``: an agent reopens a closed ticket; it waits on us.
- ``auto_reply`` and ``bounce``: change nothing, ever: an out-of-office is not the contact
  answering, and a bounce is not the contact at all.

Typed custom properties: a host describes its ticket properties as :class:`PropertyDefinition`
values and :func:`check_ticket_template` validates a channel's template against them, so that the
settings form can refuse a template before any ticket is made from it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

import attrs

from inboxcore.domain.errors import InvalidTransition, Problem
from inboxcore.domain.ids import TicketId, UserId
from inboxcore.domain.model import (
    Conversation,
    ConversationKind,
    Direction,
    MessageKind,
    PropertyValue,
    Ticket,
    TicketSettings,
    TicketStatus,
    TicketTemplate,
)

__all__ = [
    "MAX_TICKET_NAME_LENGTH",
    "PropertyDefinition",
    "PropertyType",
    "RESERVED_PROPERTY_NAMES",
    "TICKET_TRANSITIONS",
    "TicketStep",
    "allowed_steps",
    "apply_ticket_step",
    "check_ticket_template",
    "open_ticket",
    "ticket_name",
    "ticket_state_diagram",
    "ticket_step_for_message",
]

MAX_TICKET_NAME_LENGTH = 200
"""Longer subjects are cut (with an ellipsis) so that ticket lists stay readable."""


class TicketStep(enum.Enum):
    """What happened to a ticket's conversation; the columns of :data:`TICKET_TRANSITIONS`."""

    INBOUND_REPLY = "inbound_reply"
    AGENT_REPLY = "agent_reply"
    CLOSE = "close"
    REOPEN = "reopen"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"


_S = TicketStatus
_T = TicketStep

TICKET_TRANSITIONS: Mapping[tuple[TicketStatus, TicketStep], TicketStatus] = MappingProxyType(
    {
        (_S.NEW, _T.INBOUND_REPLY): _S.NEW,
        (_S.NEW, _T.AGENT_REPLY): _S.WAITING_ON_CONTACT,
        (_S.NEW, _T.CLOSE): _S.CLOSED,
        (_S.NEW, _T.AUTO_REPLY): _S.NEW,
        (_S.NEW, _T.BOUNCE): _S.NEW,
        (_S.WAITING_ON_CONTACT, _T.INBOUND_REPLY): _S.WAITING_ON_US,
        (_S.WAITING_ON_CONTACT, _T.AGENT_REPLY): _S.WAITING_ON_CONTACT,
        (_S.WAITING_ON_CONTACT, _T.CLOSE): _S.CLOSED,
        (_S.WAITING_ON_CONTACT, _T.AUTO_REPLY): _S.WAITING_ON_CONTACT,
        (_S.WAITING_ON_CONTACT, _T.BOUNCE): _S.WAITING_ON_CONTACT,
        (_S.WAITING_ON_US, _T.INBOUND_REPLY): _S.WAITING_ON_US,
        (_S.WAITING_ON_US, _T.AGENT_REPLY): _S.WAITING_ON_CONTACT,
        (_S.WAITING_ON_US, _T.CLOSE): _S.CLOSED,
        (_S.WAITING_ON_US, _T.AUTO_REPLY): _S.WAITING_ON_US,
        (_S.WAITING_ON_US, _T.BOUNCE): _S.WAITING_ON_US,
        (_S.CLOSED, _T.INBOUND_REPLY): _S.WAITING_ON_US,
        (_S.CLOSED, _T.AGENT_REPLY): _S.CLOSED,
        (_S.CLOSED, _T.REOPEN): _S.WAITING_ON_US,
        (_S.CLOSED, _T.AUTO_REPLY): _S.CLOSED,
        (_S.CLOSED, _T.BOUNCE): _S.CLOSED,
    }
)
"""(status, step) -> new status. A pair that is absent is not allowed (``InvalidTransition``)."""


def allowed_steps(status: TicketStatus) -> tuple[TicketStep, ...]:
    """The steps a ticket in ``status`` allows, in table order (for a UI's buttons)."""
    return tuple(step for (state, step) in TICKET_TRANSITIONS if state is status)


def apply_ticket_step(ticket: Ticket, step: TicketStep, now: datetime) -> Ticket:
    """The ticket after ``step``; the same object when the status does not change.

    ``updated_at`` becomes ``now`` (never earlier than it was) when the status changes. Raises
    :class:`~inboxcore.domain.errors.InvalidTransition` for a step the table does not allow from the
    ticket's status (closing a closed ticket, reopening an open one): the caller asked for
    something impossible, which is a programming or UI error, not bad mail.
    """
    new = TICKET_TRANSITIONS.get((ticket.status, step))
    if new is None:
        raise InvalidTransition("ticket", ticket.status.value, step.value)
    if new is ticket.status:
        return ticket
    return attrs.evolve(ticket, status=new, updated_at=max(now, ticket.updated_at))


def ticket_step_for_message(kind: MessageKind, direction: Direction) -> TicketStep | None:
    """The step a message appended to a ticketed conversation takes, or None for none.

    Outbound messages are agent replies; inbound ones are the contact's replies, except
    auto-replies (and loops, which are automatic too) and bounces. A forwarding confirmation
    belongs to no ticket.
    """
    if kind is MessageKind.FORWARDING_CONFIRMATION:
        return None
    if kind is MessageKind.BOUNCE:
        return TicketStep.BOUNCE
    if kind in (MessageKind.AUTO_REPLY, MessageKind.LOOP):
        return TicketStep.AUTO_REPLY
    if direction is Direction.OUTBOUND:
        return TicketStep.AGENT_REPLY
    return TicketStep.INBOUND_REPLY


def ticket_name(subject: str, *, contact_name: str | None = None) -> str:
    """A ticket's name from the conversation's subject.

    White space is collapsed (subjects come folded, with tabs) and the name is cut at
    :data:`MAX_TICKET_NAME_LENGTH`. An empty subject becomes "Email from <contact>" where the
    contact's name or address is known, else "Email without subject", so that no ticket is
    nameless in a list.
    """
    name = " ".join(subject.split())
    if not name:
        who = " ".join((contact_name or "").split())
        return f"Email from {who}" if who else "Email without subject"
    if len(name) > MAX_TICKET_NAME_LENGTH:
        return name[: MAX_TICKET_NAME_LENGTH - 1].rstrip() + "…"
    return name


def open_ticket(
    conversation: Conversation,
    settings: TicketSettings,
    *,
    ticket_id: TicketId,
    now: datetime,
    owner_id: UserId | None,
    contact_name: str | None = None,
) -> Ticket | None:
    """The ticket for a NEW conversation, or None when it gets none.

    None when the channel switched tickets off or the conversation is not a customer one
    (forwarding confirmations and notices are never work). Otherwise a ``new`` ticket with the
    template's pipeline, stage, priority, category and custom properties, ``owner_id`` (pass the
    routing decision's assignee) and a name from the subject (see :func:`ticket_name`).
    Call it once per new conversation, never per message: storage enforces one ticket per
    conversation.
    """
    if not settings.enabled or conversation.kind is not ConversationKind.CUSTOMER:
        return None
    template = settings.template
    return Ticket(
        id=ticket_id,
        account_id=conversation.account_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.id,
        name=ticket_name(conversation.subject, contact_name=contact_name),
        created_at=now,
        updated_at=now,
        pipeline=template.pipeline,
        stage=template.stage,
        status=TicketStatus.NEW,
        priority=template.priority,
        category=template.category,
        owner_id=owner_id,
        properties=template.properties,
    )


# --- typed custom properties ----------------------------------------------------------------


class PropertyType(enum.Enum):
    """The type of a custom ticket property."""

    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"
    ENUMERATION = "enumeration"


def _options(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class PropertyDefinition:
    """A ticket property the host's CRM knows: its name, type, options and whether it is required.

    ``options`` are the allowed values of an ``enumeration`` (and only of one). A ``required``
    property must have a value in every channel template, because tickets are opened
    automatically and nobody is there to fill it in.
    """

    name: str
    type: PropertyType
    options: tuple[str, ...] = attrs.field(default=(), converter=_options)
    required: bool = False
    label: str | None = None


RESERVED_PROPERTY_NAMES = frozenset(
    {"name", "pipeline", "stage", "status", "priority", "category", "owner", "owner_id"}
)
"""Built-in ticket fields: a custom property may not take their names."""


def _type_error(definition: PropertyDefinition, value: PropertyValue) -> str | None:
    """Why ``value`` does not fit ``definition``, or None when it does."""
    kind = definition.type
    if kind is PropertyType.BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is PropertyType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if not isinstance(value, str):
        return "must be text"
    if kind is PropertyType.ENUMERATION and value not in definition.options:
        return f"must be one of {', '.join(definition.options)}"
    return None


def _check_definitions(definitions: Sequence[PropertyDefinition]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for d in definitions:
        field = f"properties.{d.name}"
        if d.name in seen:
            problems.append(
                Problem(
                    code="ticket.definition.duplicate",
                    message=f"Property {d.name!r} is defined twice.",
                    field=field,
                )
            )
        seen.add(d.name)
        if d.type is PropertyType.ENUMERATION and not d.options:
            problems.append(
                Problem(
                    code="ticket.definition.no_options",
                    message=f"Property {d.name!r} is an enumeration without options.",
                    field=field,
                )
            )
        if d.type is not PropertyType.ENUMERATION and d.options:
            problems.append(
                Problem(
                    code="ticket.definition.options_not_allowed",
                    message=f"Property {d.name!r} is not an enumeration but lists options.",
                    field=field,
                )
            )
    return problems


def check_ticket_template(
    template: TicketTemplate, definitions: Sequence[PropertyDefinition]
) -> list[Problem]:
    """Everything wrong with a channel's ticket template, for the settings form.

    Checks the definitions themselves, that pipeline and stage are set, that every custom
    property is defined, takes no built-in name and has a value of its type (``True`` is not a
    number, NaN is no number at all, an enumeration takes one of its options), and that every
    required property has a value. ``priority`` and ``category`` are checked against a definition
    of the same name where the host gives one (typically an enumeration of its priorities).
    """
    problems = _check_definitions(definitions)
    by_name = {d.name: d for d in definitions}
    problems += _builtin_field_problems(template, by_name)
    problems += _custom_property_problems(template, by_name)
    problems += [
        _required(definition, f"properties.{definition.name}")
        for definition in definitions
        if definition.required
        and definition.name not in RESERVED_PROPERTY_NAMES
        and definition.name not in template.properties
    ]
    return problems


def _builtin_field_problems(
    template: TicketTemplate, by_name: Mapping[str, PropertyDefinition]
) -> list[Problem]:
    """Pipeline and stage set; priority and category as the host's definitions of them say."""
    problems: list[Problem] = []
    for field in ("pipeline", "stage"):
        if not getattr(template, field).strip():
            problems.append(
                Problem(
                    code=f"ticket.{field}.empty",
                    message=f"The ticket {field} must not be empty.",
                    field=field,
                )
            )
    for field in ("priority", "category"):
        builtin: str | None = getattr(template, field)
        definition = by_name.get(field)
        if definition is None:
            continue
        if builtin is None:
            if definition.required:
                problems.append(_required(definition, field))
            continue
        error = _type_error(definition, builtin)
        if error:
            problems.append(_wrong_type(definition, builtin, error, field))
    return problems


def _custom_property_problems(
    template: TicketTemplate, by_name: Mapping[str, PropertyDefinition]
) -> list[Problem]:
    """Each custom property defined, not a built-in name, and holding a value of its type."""
    problems: list[Problem] = []
    for name, value in template.properties.items():
        field = f"properties.{name}"
        if name in RESERVED_PROPERTY_NAMES:
            problems.append(
                Problem(
                    code="ticket.property.reserved",
                    message=f"{name!r} is a built-in ticket field, not a custom property.",
                    field=field,
                )
            )
            continue
        definition = by_name.get(name)
        if definition is None:
            problems.append(
                Problem(
                    code="ticket.property.unknown",
                    message=f"There is no ticket property {name!r}.",
                    field=field,
                )
            )
            continue
        error = _type_error(definition, value)
        if error:
            problems.append(_wrong_type(definition, value, error, field))
        elif definition.required and isinstance(value, str) and not value.strip():
            problems.append(_required(definition, field))
    return problems


def _required(definition: PropertyDefinition, field: str) -> Problem:
    return Problem(
        code="ticket.property.required",
        message=f"{definition.label or definition.name} is required.",
        field=field,
    )


def _wrong_type(
    definition: PropertyDefinition, value: PropertyValue, error: str, field: str
) -> Problem:
    return Problem(
        code="ticket.property.type",
        message=f"{definition.label or definition.name} {error} (got {value!r}).",
        field=field,
    )


# --- the diagram ----------------------------------------------------------------------------


def ticket_state_diagram() -> str:
    """:data:`TICKET_TRANSITIONS` as a Mermaid state diagram (``stateDiagram-v2``).

    Edges between the same two statuses are merged into one, labelled with every step, in table
    order; the docs embed the output verbatim and a test keeps them equal.
    """
    edges: dict[tuple[TicketStatus, TicketStatus], list[str]] = {}
    for (state, step), new in TICKET_TRANSITIONS.items():
        edges.setdefault((state, new), []).append(step.value)
    lines = ["stateDiagram-v2", f"    [*] --> {TicketStatus.NEW.value}: open_ticket"]
    for (state, new), steps in edges.items():
        lines.append(f"    {state.value} --> {new.value}: {', '.join(steps)}")
    return "\n".join(lines) + "\n"
