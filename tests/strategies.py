"""Hypothesis strategies for inboxcore's domain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    ConversationKind,
    ConversationSettings,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    DmarcFailureAction,
    Envelope,
    FromAddressSettings,
    FromNameMode,
    IntakeRecord,
    IntakeSettings,
    Message,
    MessageKind,
    RotationState,
    RoutingMode,
    RoutingSettings,
    SignatureSettings,
    Team,
    Ticket,
    TicketSettings,
    TicketStatus,
    TicketTemplate,
    User,
)

ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
texts = st.text(max_size=40)
utc_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=3).map(lambda ls: ".".join([*ls, "example"]))
locals_ = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_-]{1,10})?", fullmatch=True
)
display_names = st.one_of(st.none(), st.text(min_size=1, max_size=30))


@st.composite
def email_addresses(draw: Any) -> EmailAddress:
    return EmailAddress(local=draw(locals_), domain=draw(domains), display_name=draw(display_names))


property_values = st.one_of(st.text(max_size=10), st.integers(), st.booleans())
properties = st.dictionaries(st.text(min_size=1, max_size=8), property_values, max_size=4)
durations = st.integers(min_value=0, max_value=10**8).map(lambda s: timedelta(seconds=s))


def _builds(cls: type[Any], **kwargs: Any) -> st.SearchStrategy[Any]:
    return st.builds(cls, **kwargs)


accounts = _builds(
    Account,
    id=ids,
    name=texts,
    subdomain=labels,
    plan=texts,
    sending_domains=st.frozensets(domains, max_size=3),
)
users = _builds(
    User,
    id=ids,
    account_id=ids,
    email=email_addresses(),
    first_name=texts,
    last_name=texts,
    username=st.none() | labels,
    active=st.booleans(),
)
teams = _builds(Team, id=ids, account_id=ids, name=texts, member_ids=st.tuples(ids, ids))
contacts = _builds(
    Contact,
    id=ids,
    account_id=ids,
    email=email_addresses(),
    created_at=utc_datetimes,
    name=st.none() | texts,
    owner_id=st.none() | ids,
)
channels = _builds(
    Channel,
    id=ids,
    account_id=ids,
    name=texts,
    forwarding_address=email_addresses(),
    created_at=utc_datetimes,
    mailbox_addresses=st.lists(email_addresses(), max_size=2).map(tuple),
    state=st.sampled_from(ChannelState),
    connected_at=st.none() | utc_datetimes,
    from_name_mode=st.sampled_from(FromNameMode),
    company_name=texts,
    from_address=_builds(
        FromAddressSettings,
        custom=st.none() | email_addresses(),
        verified_at=st.none() | utc_datetimes,
        pending_token_id=st.none() | ids,
        verification_sent_at=st.lists(utc_datetimes, max_size=3).map(tuple),
    ),
    signature=_builds(SignatureSettings, html=texts, text=st.none() | texts),
    routing=_builds(
        RoutingSettings,
        mode=st.sampled_from(RoutingMode),
        user_ids=st.lists(ids, max_size=3).map(tuple),
        team_ids=st.lists(ids, max_size=3).map(tuple),
        max_open_per_agent=st.none() | st.integers(min_value=1, max_value=100),
        fallback=st.sampled_from(RoutingMode),
    ),
    tickets=_builds(
        TicketSettings,
        enabled=st.booleans(),
        template=_builds(
            TicketTemplate,
            pipeline=texts,
            stage=texts,
            priority=st.none() | texts,
            properties=properties,
        ),
    ),
    intake=_builds(
        IntakeSettings,
        max_message_size=st.integers(min_value=1, max_value=10**9),
        trusted_forwarders=st.lists(domains, max_size=3).map(tuple),
        dmarc_failure_action=st.sampled_from(DmarcFailureAction),
        spam_quarantine_threshold=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    ),
    conversations=_builds(
        ConversationSettings, subject_match_window=durations, reopen_window=durations
    ),
)
conversations = _builds(
    Conversation,
    id=ids,
    account_id=ids,
    channel_id=ids,
    contact_id=ids,
    subject=texts,
    created_at=utc_datetimes,
    last_message_at=utc_datetimes,
    kind=st.sampled_from(ConversationKind),
    status=st.sampled_from(ConversationStatus),
    assignee_id=st.none() | ids,
    participants=st.frozensets(st.emails(), max_size=3),
    linked_conversation_id=st.none() | ids,
)
messages = _builds(
    Message,
    id=ids,
    account_id=ids,
    channel_id=ids,
    conversation_id=ids,
    direction=st.sampled_from(Direction),
    kind=st.sampled_from(MessageKind),
    fingerprint=texts,
    received_at=utc_datetimes,
    rfc_message_id=st.none() | texts,
    sender=st.none() | email_addresses(),
    to=st.lists(email_addresses(), max_size=2).map(tuple),
    subject=texts,
    sent_at=st.none() | utc_datetimes,
    references=st.lists(texts, max_size=3).map(tuple),
    delivery_status=st.sampled_from(DeliveryStatus),
    sender_evidence=st.none() | texts,
    authentication_results=st.none() | texts,
)
tickets = _builds(
    Ticket,
    id=ids,
    account_id=ids,
    channel_id=ids,
    conversation_id=ids,
    name=texts,
    created_at=utc_datetimes,
    updated_at=utc_datetimes,
    status=st.sampled_from(TicketStatus),
    priority=st.none() | texts,
    owner_id=st.none() | ids,
    properties=properties,
)
rotations = _builds(
    RotationState,
    channel_id=ids,
    last_user_id=st.none() | ids,
    assigned_count=st.integers(0, 10**6),
    at=st.none() | utc_datetimes,
)
envelopes = _builds(
    Envelope,
    received_at=utc_datetimes,
    mail_from=st.none() | st.just("") | st.emails(),
    rcpt_to=st.lists(st.emails(), max_size=3).map(tuple),
    client_ip=st.none() | st.ip_addresses().map(str),
    helo=st.none() | domains,
)
intake_records = _builds(
    IntakeRecord,
    raw_id=ids,
    envelope=envelopes,
    disposition=st.sampled_from(["accepted", "quarantined"]),
    reason_codes=st.lists(ids, max_size=3).map(tuple),
    at=utc_datetimes,
    channel_id=st.none() | ids,
)

ALL_VALUES: dict[type[Any], st.SearchStrategy[Any]] = {
    Account: accounts,
    User: users,
    Team: teams,
    Contact: contacts,
    Channel: channels,
    Conversation: conversations,
    Message: messages,
    Ticket: tickets,
    RotationState: rotations,
    Envelope: envelopes,
    IntakeRecord: intake_records,
}
