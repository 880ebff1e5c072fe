"""Tickets: one per conversation, statuses by the transition table, typed template properties."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidTransition
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, ConversationId, TicketId, UserId
from inboxcore.domain.model import (
    Conversation,
    ConversationKind,
    ConversationSettings,
    ConversationStatus,
    Direction,
    MessageKind,
    Ticket,
    TicketSettings,
    TicketStatus,
    TicketTemplate,
)
from inboxcore.policies.threads import MatchedBy, ThreadAction, ThreadContext, decide_thread
from inboxcore.tickets import (
    MAX_TICKET_NAME_LENGTH,
    TICKET_TRANSITIONS,
    PropertyDefinition,
    PropertyType,
    TicketStep,
    allowed_steps,
    apply_ticket_step,
    check_ticket_template,
    open_ticket,
    ticket_name,
    ticket_state_diagram,
    ticket_step_for_message,
)

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
CHANNEL = ChannelId("ch-support")
ACCOUNT = AccountId("acme")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "routing-and-tickets.md"


def conversation(
    *,
    subject: str = "Order 4411 arrived damaged",
    kind: ConversationKind = ConversationKind.CUSTOMER,
) -> Conversation:
    return Conversation(
        id=ConversationId("conv-1"),
        account_id=ACCOUNT,
        channel_id=CHANNEL,
        contact_id=ContactId("contact-1"),
        subject=subject,
        created_at=NOW,
        last_message_at=NOW,
        kind=kind,
    )


def ticket(status: TicketStatus = TicketStatus.NEW) -> Ticket:
    return Ticket(
        id=TicketId("t-1"),
        account_id=ACCOUNT,
        channel_id=CHANNEL,
        conversation_id=ConversationId("conv-1"),
        name="Order 4411 arrived damaged",
        created_at=NOW,
        updated_at=NOW,
        status=status,
    )


# --- opening --------------------------------------------------------------------------------


def test_a_new_conversation_opens_a_ticket_from_the_template() -> None:
    """Pipeline, stage, priority, category and custom properties come from the channel template."""
    template = TicketTemplate(
        pipeline="support",
        stage="triage",
        priority="high",
        category="shipping",
        properties={"region": "EMEA", "sla_hours": 8, "vip": False},
    )
    t = open_ticket(
        conversation(),
        TicketSettings(template=template),
        ticket_id=TicketId("t-9"),
        now=NOW,
        owner_id=UserId("ann"),
    )
    assert t is not None
    assert (t.id, t.conversation_id, t.channel_id, t.account_id) == (
        "t-9",
        "conv-1",
        CHANNEL,
        ACCOUNT,
    )
    assert (t.pipeline, t.stage, t.priority, t.category) == (
        "support",
        "triage",
        "high",
        "shipping",
    )
    assert dict(t.properties) == {"region": "EMEA", "sla_hours": 8, "vip": False}
    assert (t.status, t.owner_id, t.name) == (TicketStatus.NEW, "ann", "Order 4411 arrived damaged")
    assert t.created_at == t.updated_at == NOW


def test_no_ticket_when_switched_off_or_not_a_customer_conversation() -> None:
    """A channel with tickets off, a forwarding confirmation or a notice gets no ticket."""
    args = {"ticket_id": TicketId("t-1"), "now": NOW, "owner_id": None}
    assert open_ticket(conversation(), TicketSettings(enabled=False), **args) is None  # type: ignore[arg-type]
    for kind in (ConversationKind.FORWARDING_CONFIRMATION, ConversationKind.NOTICE):
        assert open_ticket(conversation(kind=kind), TicketSettings(), **args) is None  # type: ignore[arg-type]


def test_ticket_names_have_sensible_fallbacks_and_limits() -> None:
    """Empty subjects get a readable name; folded white space collapses; long subjects are cut."""
    assert ticket_name("  Order\t4411\r\n arrived ") == "Order 4411 arrived"
    assert ticket_name("", contact_name="Jane Roe") == "Email from Jane Roe"
    assert ticket_name("   ") == "Email without subject"
    long = ticket_name("Refund " * 100)
    assert len(long) == MAX_TICKET_NAME_LENGTH
    assert long.endswith("…")
    t = open_ticket(
        conversation(subject=""),
        TicketSettings(),
        ticket_id=TicketId("t-1"),
        now=NOW,
        owner_id=None,
        contact_name="jane@globex.example",
    )
    assert t is not None
    assert t.name == "Email from jane@globex.example"


# --- the transition table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "step", "expected"),
    [
        (TicketStatus.NEW, TicketStep.AGENT_REPLY, TicketStatus.WAITING_ON_CONTACT),
        (TicketStatus.NEW, TicketStep.INBOUND_REPLY, TicketStatus.NEW),
        (TicketStatus.WAITING_ON_CONTACT, TicketStep.INBOUND_REPLY, TicketStatus.WAITING_ON_US),
        (TicketStatus.WAITING_ON_US, TicketStep.AGENT_REPLY, TicketStatus.WAITING_ON_CONTACT),
        (TicketStatus.WAITING_ON_US, TicketStep.CLOSE, TicketStatus.CLOSED),
        (TicketStatus.CLOSED, TicketStep.INBOUND_REPLY, TicketStatus.WAITING_ON_US),
        (TicketStatus.CLOSED, TicketStep.REOPEN, TicketStatus.WAITING_ON_US),
        (TicketStatus.CLOSED, TicketStep.AGENT_REPLY, TicketStatus.CLOSED),
    ],
)
def test_steps_move_the_status_as_the_table_says(
    status: TicketStatus, step: TicketStep, expected: TicketStatus
) -> None:
    """Replies move the ball between us and the contact; an inbound reply reopens."""
    later = NOW + timedelta(hours=1)
    result = apply_ticket_step(ticket(status), step, later)
    assert result.status is expected
    assert result.updated_at == (later if expected is not status else NOW)


@pytest.mark.parametrize("status", list(TicketStatus))
@pytest.mark.parametrize("step", [TicketStep.AUTO_REPLY, TicketStep.BOUNCE])
def test_auto_replies_and_bounces_change_nothing(status: TicketStatus, step: TicketStep) -> None:
    """An out-of-office or a bounce leaves the ticket exactly as it was."""
    before = ticket(status)
    assert apply_ticket_step(before, step, NOW + timedelta(days=1)) is before


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (TicketStatus.CLOSED, TicketStep.CLOSE),
        (TicketStatus.NEW, TicketStep.REOPEN),
        (TicketStatus.WAITING_ON_US, TicketStep.REOPEN),
    ],
)
def test_disallowed_steps_raise_invalid_transition(status: TicketStatus, step: TicketStep) -> None:
    """Closing twice or reopening an open ticket is a caller's error (steps are an enum, as the
    channel's are: an unknown step is a type error, not a runtime one)."""
    with pytest.raises(InvalidTransition) as caught:
        apply_ticket_step(ticket(status), step, NOW)
    assert (caught.value.state, caught.value.step) == (status.value, step.value)


def test_every_status_allows_the_message_steps() -> None:
    """Whatever the status, an incoming or outgoing message never hits a missing transition."""
    for status in TicketStatus:
        steps = set(allowed_steps(status))
        assert {
            TicketStep.INBOUND_REPLY,
            TicketStep.AGENT_REPLY,
            TicketStep.AUTO_REPLY,
            TicketStep.BOUNCE,
        } <= steps
        assert (TicketStep.CLOSE in steps) == (status is not TicketStatus.CLOSED)
        assert (TicketStep.REOPEN in steps) == (status is TicketStatus.CLOSED)


def test_message_kinds_map_to_steps() -> None:
    """Outbound is an agent reply; automatic kinds are auto-replies or bounces; confirmations none."""
    assert (
        ticket_step_for_message(MessageKind.MESSAGE, Direction.INBOUND) is TicketStep.INBOUND_REPLY
    )
    assert (
        ticket_step_for_message(MessageKind.MESSAGE, Direction.OUTBOUND) is TicketStep.AGENT_REPLY
    )
    assert (
        ticket_step_for_message(MessageKind.AUTO_REPLY, Direction.INBOUND) is TicketStep.AUTO_REPLY
    )
    assert ticket_step_for_message(MessageKind.LOOP, Direction.INBOUND) is TicketStep.AUTO_REPLY
    assert ticket_step_for_message(MessageKind.BOUNCE, Direction.INBOUND) is TicketStep.BOUNCE
    assert ticket_step_for_message(MessageKind.FORWARDING_CONFIRMATION, Direction.INBOUND) is None


@given(st.lists(st.sampled_from(list(TicketStep)), max_size=30))
def test_any_allowed_sequence_keeps_times_ordered(steps: list[TicketStep]) -> None:
    """Applying allowed steps never moves updated_at backwards or before created_at."""
    t = ticket()
    when = NOW
    for step in steps:
        when += timedelta(minutes=5)
        if step in allowed_steps(t.status):
            t = apply_ticket_step(t, step, when)
        assert t.created_at <= t.updated_at <= when


# --- diagram and docs -----------------------------------------------------------------------


def test_diagram_draws_every_transition_of_the_table() -> None:
    """Each (status, step) pair of the table appears on exactly one edge of the diagram."""
    diagram = ticket_state_diagram()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> new: open_ticket\n")
    drawn: set[tuple[str, str, str]] = set()
    for line in diagram.splitlines()[2:]:
        match = re.fullmatch(r"    (\w+) --> (\w+): ([\w, ]+)", line)
        assert match, line
        for step in match.group(3).split(", "):
            drawn.add((match.group(1), step, match.group(2)))
    table = {(s.value, step.value, new.value) for (s, step), new in TICKET_TRANSITIONS.items()}
    assert drawn == table


def test_docs_embed_exactly_the_current_diagram() -> None:
    """docs/routing-and-tickets.md shows the diagram drawn from the table, so they cannot drift."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert blocks == [ticket_state_diagram()]


# --- typed properties -----------------------------------------------------------------------

DEFINITIONS = (
    PropertyDefinition(
        name="priority", type=PropertyType.ENUMERATION, options=("low", "normal", "high")
    ),
    PropertyDefinition(
        name="region",
        type=PropertyType.ENUMERATION,
        options=("EMEA", "AMER", "APAC"),
        required=True,
    ),
    PropertyDefinition(name="sla_hours", type=PropertyType.NUMBER, label="SLA (hours)"),
    PropertyDefinition(name="vip", type=PropertyType.BOOL),
    PropertyDefinition(name="team_note", type=PropertyType.TEXT),
)


def test_a_sound_template_has_no_problems() -> None:
    """Defined properties with values of their types, required ones present: no problems."""
    template = TicketTemplate(
        priority="high",
        properties={"region": "EMEA", "sla_hours": 8.5, "vip": True, "team_note": "Key account"},
    )
    assert check_ticket_template(template, DEFINITIONS) == []


@pytest.mark.parametrize(
    ("properties", "code", "field"),
    [
        ({"region": "EMEA", "sla_hours": True}, "ticket.property.type", "properties.sla_hours"),
        ({"region": "EMEA", "sla_hours": "8"}, "ticket.property.type", "properties.sla_hours"),
        (
            {"region": "EMEA", "sla_hours": float("nan")},
            "ticket.property.type",
            "properties.sla_hours",
        ),
        ({"region": "EMEA", "vip": 1}, "ticket.property.type", "properties.vip"),
        ({"region": "EMEA", "team_note": 3}, "ticket.property.type", "properties.team_note"),
        ({"region": "Mars"}, "ticket.property.type", "properties.region"),
        ({}, "ticket.property.required", "properties.region"),
        ({"region": "EMEA", "colour": "red"}, "ticket.property.unknown", "properties.colour"),
        ({"region": "EMEA", "status": "open"}, "ticket.property.reserved", "properties.status"),
    ],
)
def test_template_problems_are_typed_and_located(
    properties: dict[str, str | int | float | bool], code: str, field: str
) -> None:
    """Each wrong value yields one problem with a stable code and the field it is about."""
    problems = check_ticket_template(TicketTemplate(properties=properties), DEFINITIONS)
    assert [(p.code, p.field) for p in problems] == [(code, field)]
    assert problems[0].message


def test_builtin_fields_and_definitions_are_checked_too() -> None:
    """A priority outside its enumeration, an empty pipeline and bad definitions are reported."""
    bad_definitions = (
        *DEFINITIONS,
        PropertyDefinition(name="vip", type=PropertyType.BOOL),
        PropertyDefinition(name="tier", type=PropertyType.ENUMERATION),
        PropertyDefinition(name="score", type=PropertyType.NUMBER, options=("1",)),
    )
    template = TicketTemplate(pipeline=" ", priority="urgent", properties={"region": "APAC"})
    codes = [p.code for p in check_ticket_template(template, bad_definitions)]
    assert codes == [
        "ticket.definition.duplicate",
        "ticket.definition.no_options",
        "ticket.definition.options_not_allowed",
        "ticket.pipeline.empty",
        "ticket.property.type",
    ]


# --- the state machine: tickets and conversations together ----------------------------------

SETTINGS = ConversationSettings(
    subject_match_window=timedelta(days=7), reopen_window=timedelta(days=30)
)
CONTACT = ContactId("contact-jane")
JANE = EmailAddress.parse("jane@globex.example")
STRANGER = EmailAddress.parse("mallory@evil.example")


class TicketsAndConversations(RuleBasedStateMachine):
    """A miniature of the service: threading decisions applied to conversations and tickets.

    Invariants: every customer conversation has exactly one ticket; a conversation is closed
    exactly when its ticket is; an inbound reply leaves its ticket waiting on us (new or
    waiting_on_us); auto-replies and bounces change no status and open nothing; a linked
    conversation points to an older one; ticket times never run backwards.
    """

    conversations_bundle = Bundle("conversations")

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.conversations: dict[ConversationId, Conversation] = {}
        self.tickets: dict[ConversationId, Ticket] = {}
        self.message_ids: dict[str, ConversationId] = {}
        self.counter = 0

    def _next(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def _open(self, linked: ConversationId | None = None) -> ConversationId:
        cid = ConversationId(self._next("conv"))
        conv = Conversation(
            id=cid,
            account_id=ACCOUNT,
            channel_id=CHANNEL,
            contact_id=CONTACT,
            subject=f"Question {cid}",
            created_at=self.now,
            last_message_at=self.now,
            participants=frozenset({JANE.key}),
            linked_conversation_id=linked,
        )
        t = open_ticket(
            conv, TicketSettings(), ticket_id=TicketId(self._next("t")), now=self.now, owner_id=None
        )
        assert t is not None
        self.conversations[cid] = conv
        self.tickets[cid] = t
        self.message_ids[self._next("mid")] = cid
        return cid

    def _step(self, cid: ConversationId, step: TicketStep) -> None:
        self.tickets[cid] = apply_ticket_step(self.tickets[cid], step, self.now)

    def _incoming(
        self, cid: ConversationId, kind: MessageKind, sender: EmailAddress, *, proven: bool = False
    ) -> tuple[ThreadAction, ConversationId | None]:
        """Deliver a reply quoting our last message in ``cid`` (automatic mail: ``proven`` to
        answer it); return where it went, None for a notice of its own."""
        mid = next(m for m, c in reversed(self.message_ids.items()) if c == cid)
        ctx = ThreadContext(
            channel_id=CHANNEL,
            kind=kind,
            sender=sender,
            contact_id=CONTACT if sender == JANE else ContactId("contact-other"),
            subject=f"Re: {self.conversations[cid].subject}",
            in_reply_to=(mid,),
            known_message_ids={mid: cid},
            conversations=self.conversations.values(),
            contact_addresses={CONTACT: JANE},
            proven_conversation_id=cid if proven else None,
            proven_by=MatchedBy.BOUNCE_ADDRESS if proven else MatchedBy.NONE,
        )
        decision = decide_thread(ctx, now=self.now, settings=SETTINGS)
        step = ticket_step_for_message(kind, Direction.INBOUND)
        assert step is not None
        if decision.reason == "automatic_unproven":
            return decision.action, None  # a notice: no conversation, no ticket of the model
        if decision.action is ThreadAction.NEW:
            assert decision.matched_by is MatchedBy.REFERENCES
            return decision.action, self._open(linked=decision.linked_conversation_id)
        target = decision.conversation_id
        assert target is not None
        conv = self.conversations[target]
        if decision.action is ThreadAction.REOPEN:
            conv = attrs.evolve(conv, status=ConversationStatus.OPEN, closed_at=None)
        self.conversations[target] = attrs.evolve(conv, last_message_at=self.now)
        self._step(target, step)
        self.message_ids[self._next("mid")] = target
        return decision.action, target

    @rule(target=conversations_bundle)
    def new_email(self) -> ConversationId:
        return self._open()

    @rule(days=st.integers(0, 20))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days, minutes=1)

    @rule(cid=conversations_bundle)
    def inbound_reply(self, cid: ConversationId) -> None:
        was_closed = self.conversations[cid].status is ConversationStatus.CLOSED
        action, where = self._incoming(cid, MessageKind.MESSAGE, JANE)
        assert where is not None
        assert self.tickets[where].status in (TicketStatus.NEW, TicketStatus.WAITING_ON_US)
        assert self.conversations[where].status is ConversationStatus.OPEN
        if not was_closed:
            assert (action, where) == (ThreadAction.JOIN, cid)
        elif action is ThreadAction.NEW:
            assert self.conversations[cid].status is ConversationStatus.CLOSED

    @rule(cid=conversations_bundle)
    def stranger_reply(self, cid: ConversationId) -> None:
        before = dict(self.tickets)
        action, where = self._incoming(cid, MessageKind.MESSAGE, STRANGER)
        assert action is ThreadAction.NEW
        assert where is not None
        assert where != cid
        assert self.conversations[where].linked_conversation_id == cid
        assert all(self.tickets[c] == t for c, t in before.items())

    @rule(
        cid=conversations_bundle,
        kind=st.sampled_from([MessageKind.AUTO_REPLY, MessageKind.BOUNCE]),
        proven=st.booleans(),
    )
    def automatic_reply(self, cid: ConversationId, kind: MessageKind, proven: bool) -> None:
        statuses = {c: (v.status, self.tickets[c].status) for c, v in self.conversations.items()}
        action, where = self._incoming(cid, kind, STRANGER, proven=proven)
        expected = (ThreadAction.JOIN, cid) if proven else (ThreadAction.NEW, None)
        assert (action, where) == expected
        assert {
            c: (v.status, self.tickets[c].status) for c, v in self.conversations.items()
        } == statuses

    @rule(cid=conversations_bundle)
    def agent_reply(self, cid: ConversationId) -> None:
        self._step(cid, TicketStep.AGENT_REPLY)
        self.message_ids[self._next("mid")] = cid
        if self.conversations[cid].status is ConversationStatus.OPEN:
            assert self.tickets[cid].status is TicketStatus.WAITING_ON_CONTACT

    @rule(cid=conversations_bundle)
    def close(self, cid: ConversationId) -> None:
        conv = self.conversations[cid]
        if conv.status is ConversationStatus.CLOSED:
            with pytest.raises(InvalidTransition):
                self._step(cid, TicketStep.CLOSE)
            return
        self.conversations[cid] = attrs.evolve(
            conv, status=ConversationStatus.CLOSED, closed_at=self.now
        )
        self._step(cid, TicketStep.CLOSE)

    @invariant()
    def one_ticket_per_conversation(self) -> None:
        assert self.tickets.keys() == self.conversations.keys()
        assert len({t.id for t in self.tickets.values()}) == len(self.tickets)
        assert all(t.conversation_id == c for c, t in self.tickets.items())

    @invariant()
    def closed_together(self) -> None:
        for cid, conv in self.conversations.items():
            closed = conv.status is ConversationStatus.CLOSED
            assert closed == (self.tickets[cid].status is TicketStatus.CLOSED)

    @invariant()
    def links_point_back_in_time(self) -> None:
        for conv in self.conversations.values():
            if conv.linked_conversation_id is not None:
                older = self.conversations[conv.linked_conversation_id]
                assert older.created_at <= conv.created_at

    @invariant()
    def times_are_ordered(self) -> None:
        for t in self.tickets.values():
            assert t.created_at <= t.updated_at <= self.now


TicketsAndConversations.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
test_tickets_and_conversations = TicketsAndConversations.TestCase
