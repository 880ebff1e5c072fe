"""Routing: one decision with a reason for every new conversation, fair rotation, fallbacks."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, ConversationId, TeamId, UserId
from inboxcore.domain.model import (
    Conversation,
    RotationState,
    RoutingMode,
    RoutingSettings,
    Team,
    User,
)
from inboxcore.routing import (
    REASON_OWNER,
    REASON_OWNER_INACTIVE,
    REASON_OWNER_NONE,
    REASON_OWNER_OFFLINE_NOTIFIED,
    REASON_REPLY_KEPT,
    REASON_REPLY_UNASSIGNED,
    REASON_ROTATION,
    REASON_ROTATION_AT_CAPACITY,
    REASON_ROTATION_NO_CANDIDATES,
    REASON_ROTATION_NOBODY_AVAILABLE,
    REASON_UNASSIGNED_DEFAULT,
    DirectorySnapshot,
    RoutingDecision,
    candidate_ids,
    check_routing_settings,
    eligible_candidates,
    route_new_conversation,
    route_reply,
)
from inboxcore.testing import FakeDirectory, InMemoryStorage

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
ACCOUNT = AccountId("acme")
CHANNEL = ChannelId("ch-support")


def user(uid: str, *, active: bool = True) -> User:
    return User(
        id=UserId(uid),
        account_id=ACCOUNT,
        email=EmailAddress.parse(f"{uid}@acme.example"),
        first_name=uid.capitalize(),
        active=active,
    )


def team(tid: str, *members: str) -> Team:
    return Team(
        id=TeamId(tid),
        account_id=ACCOUNT,
        name=tid.capitalize(),
        member_ids=tuple(UserId(m) for m in members),
    )


def snapshot(
    users: list[User],
    *,
    teams: list[Team] | None = None,
    available: list[str] | None = None,
    open_counts: dict[str, int] | None = None,
) -> DirectorySnapshot:
    return DirectorySnapshot(
        users=users,
        teams=teams or [],
        available=frozenset(UserId(u) for u in (available or [])),
        open_counts={UserId(k): v for k, v in (open_counts or {}).items()},
    )


def rotation_settings(
    *uids: str,
    teams: tuple[str, ...] = (),
    max_open_per_agent: int | None = None,
    fallback: RoutingMode = RoutingMode.UNASSIGNED,
) -> RoutingSettings:
    return RoutingSettings(
        mode=RoutingMode.USERS_AND_TEAMS,
        user_ids=tuple(UserId(u) for u in uids),
        team_ids=tuple(TeamId(t) for t in teams),
        max_open_per_agent=max_open_per_agent,
        fallback=fallback,
    )


def route(
    routing: RoutingSettings,
    snap: DirectorySnapshot,
    *,
    rotation: RotationState | None = None,
    owner: str | None = None,
) -> RoutingDecision:
    return route_new_conversation(
        routing,
        snap,
        channel_id=CHANNEL,
        rotation=rotation,
        owner_id=UserId(owner) if owner else None,
        now=NOW,
    )


def conversation(assignee: str | None) -> Conversation:
    return Conversation(
        id=ConversationId("conv-1"),
        account_id=ACCOUNT,
        channel_id=CHANNEL,
        contact_id=ContactId("contact-1"),
        subject="Invoice 2025-117 is wrong",
        created_at=NOW - timedelta(days=1),
        last_message_at=NOW - timedelta(hours=2),
        assignee_id=UserId(assignee) if assignee else None,
    )


# --- modes ----------------------------------------------------------------------------------


def test_default_mode_leaves_new_conversations_unassigned() -> None:
    """With default settings the conversation lands unassigned, with the default reason."""
    decision = route(RoutingSettings(), snapshot([user("ann")], available=["ann"]))
    assert decision.assignee_id is None
    assert decision.reason == REASON_UNASSIGNED_DEFAULT
    assert decision.rotation is None
    assert not decision.notify_owner


def test_rotation_assigns_the_first_candidate_and_returns_the_state_to_store() -> None:
    """The first rotation picks the lowest id and returns the state to store."""
    snap = snapshot([user("bob"), user("ann")], available=["ann", "bob"])
    decision = route(rotation_settings("bob", "ann"), snap)
    assert decision.assignee_id == "ann"
    assert decision.reason == REASON_ROTATION
    assert decision.rotation == RotationState(
        channel_id=CHANNEL, last_user_id=UserId("ann"), assigned_count=1, at=NOW
    )


def test_rotation_continues_after_the_stored_last_user() -> None:
    """The next agent is the one after ``last_user_id`` in sorted order, wrapping around."""
    snap = snapshot([user("ann"), user("bob"), user("cat")], available=["ann", "bob", "cat"])
    routing = rotation_settings("ann", "bob", "cat")
    state = RotationState(channel_id=CHANNEL, last_user_id=UserId("bob"), assigned_count=7)
    assert route(routing, snap, rotation=state).assignee_id == "cat"
    state = RotationState(channel_id=CHANNEL, last_user_id=UserId("cat"), assigned_count=8)
    decision = route(routing, snap, rotation=state)
    assert decision.assignee_id == "ann"
    assert decision.rotation is not None
    assert decision.rotation.assigned_count == 9


def test_rotation_resumes_at_the_ring_position_of_a_user_who_left() -> None:
    """If the last assignee is no longer a candidate, the turn passes to the next id after them."""
    snap = snapshot([user("ann"), user("cat")], available=["ann", "cat"])
    state = RotationState(channel_id=CHANNEL, last_user_id=UserId("bob"))
    assert route(rotation_settings("ann", "cat"), snap, rotation=state).assignee_id == "cat"


def test_team_members_join_selected_users_without_duplicates() -> None:
    """Candidates are selected users plus team members, each once, sorted."""
    teams = {TeamId("billing"): team("billing", "cat", "ann"), TeamId("ghost"): team("ghost")}
    routing = rotation_settings("ann", "dan", teams=("billing", "ghost", "missing"))
    assert candidate_ids(routing, teams) == ("ann", "cat", "dan")


def test_rotation_skips_inactive_offline_and_capped_agents() -> None:
    """Only active, available agents under the cap are eligible."""
    snap = snapshot(
        [user("ann"), user("bob", active=False), user("cat"), user("dan")],
        teams=[team("billing", "bob", "cat", "dan", "eve")],
        available=["ann", "bob", "cat", "dan", "eve"],
        open_counts={"ann": 5, "cat": 4},
    )
    routing = rotation_settings("ann", teams=("billing",), max_open_per_agent=5)
    assert eligible_candidates(routing, snap) == ("cat", "dan")
    assert route(routing, snap).assignee_id == "cat"


@pytest.mark.parametrize(
    ("users", "available", "counts", "reason"),
    [
        ([user("ann", active=False)], ["ann"], {}, REASON_ROTATION_NO_CANDIDATES),
        ([], [], {}, REASON_ROTATION_NO_CANDIDATES),
        ([user("ann"), user("bob")], [], {}, REASON_ROTATION_NOBODY_AVAILABLE),
        ([user("ann"), user("bob")], ["ann"], {"ann": 2}, REASON_ROTATION_AT_CAPACITY),
    ],
)
def test_rotation_finding_nobody_falls_back_to_unassigned_with_the_cause(
    users: list[User], available: list[str], counts: dict[str, int], reason: str
) -> None:
    """Nobody eligible: unassigned by default, and the reason says why nobody was found."""
    snap = snapshot(users, available=available, open_counts=counts)
    decision = route(rotation_settings("ann", "bob", max_open_per_agent=2), snap)
    assert decision.assignee_id is None
    assert decision.reason == reason
    assert decision.rotation is None
    assert decision.fallback_from is None


def test_rotation_fallback_to_the_contact_owner() -> None:
    """With fallback contact_owner, an empty rotation hands the conversation to the owner."""
    snap = snapshot([user("ann"), user("olga")], available=["olga"])
    routing = rotation_settings("ann", fallback=RoutingMode.CONTACT_OWNER)
    decision = route(routing, snap, owner="olga")
    assert decision.assignee_id == "olga"
    assert decision.reason == REASON_OWNER
    assert decision.fallback_from == REASON_ROTATION_NOBODY_AVAILABLE
    assert "available" in decision.explanation


def test_contact_owner_gets_the_conversation_when_online() -> None:
    """The contact's online owner is assigned and not emailed."""
    snap = snapshot([user("olga")], available=["olga"])
    decision = route(RoutingSettings(mode=RoutingMode.CONTACT_OWNER), snap, owner="olga")
    assert (decision.assignee_id, decision.reason, decision.notify_owner) == (
        "olga",
        REASON_OWNER,
        False,
    )


def test_offline_owner_is_still_assigned_and_notified() -> None:
    """An offline owner keeps the assignment and is emailed the conversation."""
    snap = snapshot([user("olga")], available=[])
    decision = route(RoutingSettings(mode=RoutingMode.CONTACT_OWNER), snap, owner="olga")
    assert decision.assignee_id == "olga"
    assert decision.reason == REASON_OWNER_OFFLINE_NOTIFIED
    assert decision.notify_owner is True


def test_owner_ignores_the_cap_of_open_conversations() -> None:
    """The owner relationship is deliberate: the rotation cap does not apply to it."""
    snap = snapshot([user("olga")], available=["olga"], open_counts={"olga": 99})
    routing = RoutingSettings(mode=RoutingMode.CONTACT_OWNER, max_open_per_agent=3)
    assert route(routing, snap, owner="olga").assignee_id == "olga"


@pytest.mark.parametrize(
    ("owner", "users", "reason"),
    [
        (None, [user("olga")], REASON_OWNER_NONE),
        ("olga", [user("olga", active=False)], REASON_OWNER_INACTIVE),
        ("olga", [], REASON_OWNER_INACTIVE),
    ],
)
def test_missing_or_deactivated_owner_falls_back(
    owner: str | None, users: list[User], reason: str
) -> None:
    """No owner, or a deactivated or deleted one: unassigned with the reason, never the owner."""
    decision = route(
        RoutingSettings(mode=RoutingMode.CONTACT_OWNER),
        snapshot(users, available=["olga"]),
        owner=owner,
    )
    assert decision.assignee_id is None
    assert decision.reason == reason
    assert not decision.notify_owner


def test_owner_fallback_to_rotation_takes_a_turn() -> None:
    """No owner with a rotation fallback: the rotation assigns and its state is returned."""
    snap = snapshot([user("ann")], available=["ann"])
    routing = RoutingSettings(
        mode=RoutingMode.CONTACT_OWNER,
        user_ids=(UserId("ann"),),
        fallback=RoutingMode.USERS_AND_TEAMS,
    )
    decision = route(routing, snap)
    assert decision.assignee_id == "ann"
    assert decision.reason == REASON_ROTATION
    assert decision.fallback_from == REASON_OWNER_NONE
    assert decision.rotation is not None


def test_fallback_is_applied_once_and_reports_the_second_failure() -> None:
    """If the fallback also finds nobody, the result is unassigned with both causes recorded."""
    routing = RoutingSettings(
        mode=RoutingMode.CONTACT_OWNER,
        user_ids=(UserId("ann"),),
        fallback=RoutingMode.USERS_AND_TEAMS,
    )
    decision = route(routing, snapshot([user("ann")], available=[]))
    assert decision.assignee_id is None
    assert decision.reason == REASON_ROTATION_NOBODY_AVAILABLE
    assert decision.fallback_from == REASON_OWNER_NONE


# --- replies --------------------------------------------------------------------------------


def test_reply_stays_with_the_assignee_even_when_offline() -> None:
    """A reply keeps the conversation with its assignee, online or not."""
    snap = snapshot([user("ann"), user("bob")], available=["bob"])
    decision = route_reply(
        conversation("ann"),
        rotation_settings("ann", "bob"),
        snap,
        rotation=None,
        owner_id=None,
        now=NOW,
    )
    assert decision.assignee_id == "ann"
    assert decision.reason == REASON_REPLY_KEPT
    assert decision.rotation is None


def test_reply_to_an_unassigned_conversation_leaves_it_unassigned() -> None:
    """The team already saw it in the unassigned view; a reply does not route it."""
    snap = snapshot([user("bob")], available=["bob"])
    decision = route_reply(
        conversation(None), rotation_settings("bob"), snap, rotation=None, owner_id=None, now=NOW
    )
    assert decision.assignee_id is None
    assert decision.reason == REASON_REPLY_UNASSIGNED


@pytest.mark.parametrize("ann", [[user("ann", active=False)], []])
def test_reply_to_a_deactivated_assignee_routes_again(ann: list[User]) -> None:
    """A deactivated or deleted assignee loses the conversation; it is routed like a new one."""
    snap = snapshot([*ann, user("bob")], available=["ann", "bob"])
    decision = route_reply(
        conversation("ann"),
        rotation_settings("ann", "bob"),
        snap,
        rotation=None,
        owner_id=None,
        now=NOW,
    )
    assert decision.assignee_id == "bob"
    assert decision.reason == REASON_ROTATION
    assert decision.rerouted_from == "ann"
    assert "deactivated" in decision.explanation


# --- settings checks ------------------------------------------------------------------------


def test_check_routing_settings_accepts_sound_settings() -> None:
    """Known, active users and teams with members: no problems."""
    snap = snapshot([user("ann"), user("bob")], teams=[team("billing", "bob")])
    assert check_routing_settings(rotation_settings("ann", teams=("billing",)), snap) == []
    assert check_routing_settings(RoutingSettings(), snap) == []


def test_check_routing_settings_lists_every_problem() -> None:
    """Unknown and inactive users, unknown and empty teams, a bad cap and fallback are all named."""
    snap = snapshot([user("ann", active=False)], teams=[team("ghosts", "ann")])
    routing = rotation_settings(
        "ann",
        "zed",
        teams=("ghosts", "nope"),
        max_open_per_agent=0,
        fallback=RoutingMode.USERS_AND_TEAMS,
    )
    codes = [p.code for p in check_routing_settings(routing, snap)]
    assert codes == [
        "routing.cap_invalid",
        "routing.fallback_same_as_mode",
        "routing.inactive_user",
        "routing.unknown_user",
        "routing.empty_team",
        "routing.unknown_team",
        "routing.no_active_candidates",
    ]


def test_check_routing_settings_needs_someone_to_rotate_over() -> None:
    """Users-and-teams mode (or fallback) with nobody selected is a problem on user_ids."""
    for routing in (
        RoutingSettings(mode=RoutingMode.USERS_AND_TEAMS),
        RoutingSettings(mode=RoutingMode.CONTACT_OWNER, fallback=RoutingMode.USERS_AND_TEAMS),
    ):
        problems = check_routing_settings(routing, snapshot([]))
        assert [(p.code, p.field) for p in problems] == [
            ("routing.no_candidates", "routing.user_ids")
        ]


# --- properties -----------------------------------------------------------------------------

uids = st.sampled_from(["ann", "bob", "cat", "dan", "eve"]).map(UserId)


@st.composite
def routing_inputs(
    draw: st.DrawFn,
) -> tuple[RoutingSettings, DirectorySnapshot, RotationState | None, UserId | None]:
    users = draw(st.lists(uids, unique=True, max_size=5))
    snap = DirectorySnapshot(
        users=[user(u, active=draw(st.booleans())) for u in users],
        teams=[
            team(f"t{i}", *draw(st.lists(uids, max_size=4))) for i in range(draw(st.integers(0, 2)))
        ],
        available=draw(st.frozensets(uids)),
        open_counts=draw(st.dictionaries(uids, st.integers(0, 5))),
    )
    routing = RoutingSettings(
        mode=draw(st.sampled_from(RoutingMode)),
        user_ids=tuple(draw(st.lists(uids, max_size=4))),
        team_ids=tuple(TeamId(f"t{i}") for i in draw(st.lists(st.integers(0, 3), max_size=3))),
        max_open_per_agent=draw(st.none() | st.integers(1, 5)),
        fallback=draw(st.sampled_from(RoutingMode)),
    )
    rotation = draw(
        st.none()
        | st.builds(
            RotationState,
            channel_id=st.just(CHANNEL),
            last_user_id=st.none() | uids,
            assigned_count=st.integers(0, 100),
        )
    )
    return routing, snap, rotation, draw(st.none() | uids)


@settings(max_examples=200)
@given(routing_inputs())
def test_routing_is_total_and_only_picks_valid_assignees(
    inputs: tuple[RoutingSettings, DirectorySnapshot, RotationState | None, UserId | None],
) -> None:
    """Any settings and availability yield one decision with a known reason and a valid assignee."""
    routing, snap, rotation, owner = inputs
    decision = route_new_conversation(
        routing, snap, channel_id=CHANNEL, rotation=rotation, owner_id=owner, now=NOW
    )
    assert decision.reason
    assert decision.explanation
    if decision.assignee_id is None:
        assert decision.rotation is None
        assert not decision.notify_owner
    elif decision.reason == REASON_ROTATION:
        assert decision.assignee_id in eligible_candidates(routing, snap)
        assert decision.rotation is not None
        assert decision.rotation.last_user_id == decision.assignee_id
    else:
        assert decision.reason in (REASON_OWNER, REASON_OWNER_OFFLINE_NOTIFIED)
        assert decision.assignee_id == owner
        assert snap.is_active(owner)
        assert decision.notify_owner == (owner not in snap.available)
    used_modes = {routing.mode, routing.fallback}
    if decision.reason.startswith("rotation"):
        assert RoutingMode.USERS_AND_TEAMS in used_modes
    if decision.reason.startswith("owner"):
        assert RoutingMode.CONTACT_OWNER in used_modes


def _run_rotation(routing: RoutingSettings, snaps: list[DirectorySnapshot]) -> list[UserId | None]:
    """Route one conversation per snapshot, storing the rotation in between like the service."""
    storage = InMemoryStorage()
    assigned: list[UserId | None] = []
    for snap in snaps:
        with storage.unit_of_work() as uow:
            decision = route(routing, snap, rotation=uow.routing.rotation(CHANNEL))
            if decision.rotation is not None:
                uow.routing.save_rotation(decision.rotation)
            uow.commit()
        assigned.append(decision.assignee_id)
    return assigned


def test_rotation_is_fair_over_a_thousand_conversations() -> None:
    """1,000 conversations over 3 available agents: counts differ by at most one at every step."""
    directory = FakeDirectory(
        users=[user("ann"), user("bob"), user("cat"), user("dan", active=False)],
        available=[UserId("ann"), UserId("bob"), UserId("cat"), UserId("dan")],
    )
    routing = rotation_settings("ann", "bob", "cat", "dan")
    snap = DirectorySnapshot(
        users=[u for uid in ("ann", "bob", "cat", "dan") if (u := directory.user(UserId(uid)))],
        available=[
            u for u in map(UserId, ("ann", "bob", "cat", "dan")) if directory.is_available(u)
        ],
    )
    assigned = _run_rotation(routing, [snap] * 1000)
    counts = Counter(assigned)
    assert set(counts) == {"ann", "bob", "cat"}
    assert max(counts.values()) - min(counts.values()) <= 1
    running: Counter[UserId | None] = Counter()
    for a in assigned:
        running[a] += 1
        assert (
            max(running.values()) - min(running[u] for u in map(UserId, ("ann", "bob", "cat"))) <= 1
        )


@settings(max_examples=60)
@given(st.lists(st.frozensets(uids, min_size=1), min_size=2, max_size=60))
def test_rotation_stays_fair_while_agents_come_and_go(presence: list[frozenset[UserId]]) -> None:
    """Between two turns of an agent who stayed online, every other agent who stayed online got one."""
    everyone = [user(u) for u in ("ann", "bob", "cat", "dan", "eve")]
    snaps = [DirectorySnapshot(users=everyone, available=p) for p in presence]
    assigned = _run_rotation(rotation_settings("ann", "bob", "cat", "dan", "eve"), snaps)
    assert all(a in p for a, p in zip(assigned, presence, strict=True))
    last_turn: dict[UserId, int] = {}
    for i, agent in enumerate(assigned):
        assert agent is not None
        j = last_turn.get(agent)
        if j is not None and all(agent in p for p in presence[j : i + 1]):
            # Agents online for the whole gap j..i were each assigned exactly once in between.
            stayed = set.intersection(*(set(p) for p in presence[j : i + 1])) - {agent}
            between = Counter(assigned[j + 1 : i])
            assert all(between[other] == 1 for other in stayed)
        last_turn[agent] = i


@settings(max_examples=60)
@given(st.integers(1, 4), st.lists(st.sampled_from(["new", "close"]), max_size=80))
def test_rotation_never_exceeds_the_cap(cap: int, steps: list[str]) -> None:
    """Simulated opening and closing of conversations never gives an agent more than the cap."""
    everyone = [user(u) for u in ("ann", "bob", "cat")]
    routing = rotation_settings("ann", "bob", "cat", max_open_per_agent=cap)
    open_counts: Counter[UserId] = Counter()
    rotation: RotationState | None = None
    for step in steps:
        if step == "close":
            busiest = max(open_counts, key=lambda u: open_counts[u], default=None)
            if busiest is not None and open_counts[busiest]:
                open_counts[busiest] -= 1
            continue
        snap = DirectorySnapshot(
            users=everyone, available=[u.id for u in everyone], open_counts=dict(open_counts)
        )
        decision = route(routing, snap, rotation=rotation)
        if decision.assignee_id is None:
            assert decision.reason == REASON_ROTATION_AT_CAPACITY
            assert all(open_counts[u.id] >= cap for u in everyone)
        else:
            open_counts[decision.assignee_id] += 1
            rotation = decision.rotation
        assert all(n <= cap for n in open_counts.values())


@settings(max_examples=150)
@given(routing_inputs(), st.none() | uids)
def test_replies_never_land_with_a_deactivated_agent(
    inputs: tuple[RoutingSettings, DirectorySnapshot, RotationState | None, UserId | None],
    assignee: UserId | None,
) -> None:
    """A reply keeps an active assignee, and re-routes only away from an inactive one."""
    routing, snap, rotation, owner = inputs
    decision = route_reply(
        conversation(assignee), routing, snap, rotation=rotation, owner_id=owner, now=NOW
    )
    if assignee is not None and snap.is_active(assignee):
        assert (decision.assignee_id, decision.reason) == (assignee, REASON_REPLY_KEPT)
    elif assignee is None:
        assert (decision.assignee_id, decision.reason) == (None, REASON_REPLY_UNASSIGNED)
    else:
        assert decision.rerouted_from == assignee
        assert decision.assignee_id is None or snap.is_active(decision.assignee_id)
