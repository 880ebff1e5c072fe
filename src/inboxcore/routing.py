"""Routing: who gets a new conversation, as a pure decision with a reason.

Every new customer conversation gets exactly one :class:`RoutingDecision`; the service stores the
assignee and, for rotations, the new :class:`~inboxcore.domain.model.RotationState`, in the same
unit of
work as the conversation. Nothing here reads storage or the directory: the service gathers a
:class:`DirectorySnapshot` (see its docstring for the recipe) and passes it in, so that the
decision is repeatable and testable.

The modes (``RoutingSettings.mode``):

``unassigned`` (the default)
    The conversation lands unassigned for the team to triage. Reason ``unassigned.default``.
``users_and_teams``
    Candidates are the selected users plus the members of the selected teams, deduplicated, who
    are active, available now and under the optional cap of open conversations. They take turns
    in a round robin over their sorted ids, starting after the stored ``last_user_id``. Reason
    ``rotation``; when nobody qualifies: ``rotation.no_candidates`` (nobody selected is active),
    ``rotation.nobody_available`` (nobody is online) or ``rotation.at_capacity`` (everyone online
    is at the cap), and the fallback applies.
``contact_owner``
    The contact's owner gets it (reason ``owner``), even when offline: then also
    ``notify_owner`` is set and the reason is ``owner.offline_notified`` (the outbound side emails
    the conversation to them). Caps do not apply: the owner relationship is deliberate. No owner
    (``owner.none``) or a deactivated or deleted owner (``owner.inactive``): the fallback applies.

**Fallback.** When the mode finds nobody, ``RoutingSettings.fallback`` decides, once (never a
chain): ``unassigned`` (the default) leaves the conversation unassigned and the reason is the
mode's failure code, so the team sees *why* (``rotation.nobody_available``); another mode is tried
and its result stands, with ``fallback_from`` naming the failure that sent us there.

**Fairness.** The rotation pointer is the stored ``last_user_id``: the next candidate is the first
eligible id after it in sorted order, wrapping around. While the set of eligible agents does not
change, this is a strict round robin: counts differ by at most one. When agents come and go
(presence, caps), the guarantee is per turn of the ring: between two consecutive assignments to an
agent who stays eligible, every other agent who stays eligible gets exactly one. Nobody is owed
"catch-up" turns for time spent offline, so an agent coming back is not flooded. Because the
pointer is stored (and read with a row lock by SQL adapters), this holds across workers and
restarts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from inboxcore.domain.errors import Problem
from inboxcore.domain.ids import ChannelId, TeamId, UserId
from inboxcore.domain.model import (
    Conversation,
    RotationState,
    RoutingMode,
    RoutingSettings,
    Team,
    User,
)

__all__ = [
    "DirectorySnapshot",
    "REASON_OWNER",
    "REASON_OWNER_INACTIVE",
    "REASON_OWNER_NONE",
    "REASON_OWNER_OFFLINE_NOTIFIED",
    "REASON_REPLY_KEPT",
    "REASON_REPLY_UNASSIGNED",
    "REASON_ROTATION",
    "REASON_ROTATION_AT_CAPACITY",
    "REASON_ROTATION_NOBODY_AVAILABLE",
    "REASON_ROTATION_NO_CANDIDATES",
    "REASON_UNASSIGNED_DEFAULT",
    "RoutingDecision",
    "candidate_ids",
    "check_routing_settings",
    "eligible_candidates",
    "route_new_conversation",
    "route_reply",
]

REASON_UNASSIGNED_DEFAULT = "unassigned.default"
REASON_ROTATION = "rotation"
REASON_ROTATION_NO_CANDIDATES = "rotation.no_candidates"
REASON_ROTATION_NOBODY_AVAILABLE = "rotation.nobody_available"
REASON_ROTATION_AT_CAPACITY = "rotation.at_capacity"
REASON_OWNER = "owner"
REASON_OWNER_OFFLINE_NOTIFIED = "owner.offline_notified"
REASON_OWNER_NONE = "owner.none"
REASON_OWNER_INACTIVE = "owner.inactive"
REASON_REPLY_KEPT = "reply.kept_assignee"
REASON_REPLY_UNASSIGNED = "reply.unassigned"

_EXPLANATIONS = {
    REASON_UNASSIGNED_DEFAULT: "New conversations of this channel land unassigned for the team.",
    REASON_ROTATION: "Assigned by rotation among the channel's available agents.",
    REASON_ROTATION_NO_CANDIDATES: "None of the selected users or team members is active.",
    REASON_ROTATION_NOBODY_AVAILABLE: "None of the selected agents is available right now.",
    REASON_ROTATION_AT_CAPACITY: (
        "Every available agent already has the maximum number of open conversations."
    ),
    REASON_OWNER: "Assigned to the contact's owner.",
    REASON_OWNER_OFFLINE_NOTIFIED: (
        "Assigned to the contact's owner, who is offline and is emailed the conversation."
    ),
    REASON_OWNER_NONE: "The contact has no owner.",
    REASON_OWNER_INACTIVE: "The contact's owner is deactivated.",
    REASON_REPLY_KEPT: "A reply stays with the conversation's assignee.",
    REASON_REPLY_UNASSIGNED: "A reply to an unassigned conversation leaves it unassigned.",
}


def _user_map(users: Iterable[User] | Mapping[UserId, User]) -> Mapping[UserId, User]:
    if isinstance(users, Mapping):
        return MappingProxyType(dict(users))
    return MappingProxyType({u.id: u for u in users})


def _team_map(teams: Iterable[Team] | Mapping[TeamId, Team]) -> Mapping[TeamId, Team]:
    if isinstance(teams, Mapping):
        return MappingProxyType(dict(teams))
    return MappingProxyType({t.id: t for t in teams})


def _id_set(ids: Iterable[UserId]) -> frozenset[UserId]:
    return frozenset(ids)


def _count_map(counts: Mapping[UserId, int]) -> Mapping[UserId, int]:
    return MappingProxyType(dict(counts))


@attrs.frozen(kw_only=True)
class DirectorySnapshot:
    """What routing needs to know about people, gathered by the service at decision time.

    The recipe (all cheap, keyed lookups): ``teams`` = ``Directory.team(t)`` for each selected
    team id; ``users`` = ``Directory.user(u)`` for each id of :func:`candidate_ids` plus the
    contact's owner and the current assignee; ``available`` = the ids among them for which
    ``Directory.is_available`` is true; ``open_counts`` =
    ``ConversationRepository.count_open_assigned(u)`` for each candidate, needed only when the
    channel has ``max_open_per_agent``. A user missing from ``users`` counts as deleted.
    """

    users: Mapping[UserId, User] = attrs.field(factory=dict, converter=_user_map)
    teams: Mapping[TeamId, Team] = attrs.field(factory=dict, converter=_team_map)
    available: frozenset[UserId] = attrs.field(default=frozenset(), converter=_id_set)
    open_counts: Mapping[UserId, int] = attrs.field(factory=dict, converter=_count_map)

    def is_active(self, user_id: UserId) -> bool:
        """Known to the directory and not deactivated."""
        user = self.users.get(user_id)
        return user is not None and user.active

    def is_available(self, user_id: UserId) -> bool:
        """Active and online now."""
        return self.is_active(user_id) and user_id in self.available


@attrs.frozen(kw_only=True)
class RoutingDecision:
    """Who gets a conversation, and why.

    ``reason`` is a stable code (see the module docstring); ``explanation`` a sentence for the
    team. ``rotation`` is the new rotation state to store when a rotation assigned someone, else
    None (store nothing). ``fallback_from`` is the failure code of the configured mode when the
    fallback decided. ``rerouted_from`` is the previous assignee when a reply re-routed a
    conversation away from a deactivated agent.
    """

    assignee_id: UserId | None
    reason: str
    explanation: str
    notify_owner: bool = False
    rotation: RotationState | None = None
    fallback_from: str | None = None
    rerouted_from: UserId | None = None


def candidate_ids(settings: RoutingSettings, teams: Mapping[TeamId, Team]) -> tuple[UserId, ...]:
    """Selected users and members of the selected teams (those found in ``teams``), deduplicated
    and sorted: the ring the rotation walks. Says nothing about who is active or online."""
    ids: set[UserId] = set(settings.user_ids)
    for team_id in settings.team_ids:
        team = teams.get(team_id)
        if team is not None:
            ids.update(team.member_ids)
    return tuple(sorted(ids))


def eligible_candidates(
    settings: RoutingSettings, snapshot: DirectorySnapshot
) -> tuple[UserId, ...]:
    """The sorted candidates who are active, available and under the cap right now."""
    cap = settings.max_open_per_agent
    return tuple(
        uid
        for uid in candidate_ids(settings, snapshot.teams)
        if snapshot.is_available(uid) and (cap is None or snapshot.open_counts.get(uid, 0) < cap)
    )


def _decision(
    reason: str,
    assignee_id: UserId | None = None,
    *,
    notify_owner: bool = False,
    rotation: RotationState | None = None,
) -> RoutingDecision:
    return RoutingDecision(
        assignee_id=assignee_id,
        reason=reason,
        explanation=_EXPLANATIONS[reason],
        notify_owner=notify_owner,
        rotation=rotation,
    )


def _rotate(
    settings: RoutingSettings,
    snapshot: DirectorySnapshot,
    channel_id: ChannelId,
    rotation: RotationState | None,
    now: datetime,
) -> RoutingDecision:
    ring = candidate_ids(settings, snapshot.teams)
    active = [uid for uid in ring if snapshot.is_active(uid)]
    if not active:
        return _decision(REASON_ROTATION_NO_CANDIDATES)
    online = [uid for uid in active if uid in snapshot.available]
    if not online:
        return _decision(REASON_ROTATION_NOBODY_AVAILABLE)
    eligible = eligible_candidates(settings, snapshot)
    if not eligible:
        return _decision(REASON_ROTATION_AT_CAPACITY)
    last = rotation.last_user_id if rotation is not None else None
    index = 0 if last is None else bisect.bisect_right(eligible, last)
    chosen = eligible[index % len(eligible)]
    count = rotation.assigned_count if rotation is not None else 0
    state = RotationState(
        channel_id=channel_id, last_user_id=chosen, assigned_count=count + 1, at=now
    )
    return _decision(REASON_ROTATION, chosen, rotation=state)


def _owner(owner_id: UserId | None, snapshot: DirectorySnapshot) -> RoutingDecision:
    if owner_id is None:
        return _decision(REASON_OWNER_NONE)
    if not snapshot.is_active(owner_id):
        return _decision(REASON_OWNER_INACTIVE)
    if owner_id in snapshot.available:
        return _decision(REASON_OWNER, owner_id)
    return _decision(REASON_OWNER_OFFLINE_NOTIFIED, owner_id, notify_owner=True)


def _by_mode(
    mode: RoutingMode,
    settings: RoutingSettings,
    snapshot: DirectorySnapshot,
    channel_id: ChannelId,
    rotation: RotationState | None,
    owner_id: UserId | None,
    now: datetime,
) -> RoutingDecision:
    if mode is RoutingMode.USERS_AND_TEAMS:
        return _rotate(settings, snapshot, channel_id, rotation, now)
    if mode is RoutingMode.CONTACT_OWNER:
        return _owner(owner_id, snapshot)
    return _decision(REASON_UNASSIGNED_DEFAULT)


def route_new_conversation(
    settings: RoutingSettings,
    snapshot: DirectorySnapshot,
    *,
    channel_id: ChannelId,
    rotation: RotationState | None,
    owner_id: UserId | None,
    now: datetime,
) -> RoutingDecision:
    """The one routing decision for a new customer conversation.

    ``rotation`` is the channel's stored state (None before the first rotation); ``owner_id`` the
    contact's owner, if any. Total: every input yields a decision whose assignee is None, an
    eligible candidate, or the active owner. Never raises.
    """
    primary = _by_mode(settings.mode, settings, snapshot, channel_id, rotation, owner_id, now)
    if primary.assignee_id is not None or settings.mode is RoutingMode.UNASSIGNED:
        return primary
    fallback = settings.fallback
    if fallback is RoutingMode.UNASSIGNED or fallback is settings.mode:
        return primary
    second = _by_mode(fallback, settings, snapshot, channel_id, rotation, owner_id, now)
    return attrs.evolve(
        second,
        fallback_from=primary.reason,
        explanation=f"{primary.explanation} Fallback: {second.explanation}",
    )


def route_reply(
    conversation: Conversation,
    settings: RoutingSettings,
    snapshot: DirectorySnapshot,
    *,
    rotation: RotationState | None,
    owner_id: UserId | None,
    now: datetime,
) -> RoutingDecision:
    """Routing for a reply that joined (or reopened) ``conversation``.

    The reply stays with the current assignee, online or not (``reply.kept_assignee``); an
    unassigned conversation stays unassigned (``reply.unassigned``: the team already saw it).
    Only when the assignee was deactivated or deleted is the conversation routed again as if it
    were new, with ``rerouted_from`` set. ``snapshot.users`` must hold the current assignee.
    """
    current = conversation.assignee_id
    if current is None:
        return _decision(REASON_REPLY_UNASSIGNED)
    if snapshot.is_active(current):
        return _decision(REASON_REPLY_KEPT, current)
    decision = route_new_conversation(
        settings,
        snapshot,
        channel_id=conversation.channel_id,
        rotation=rotation,
        owner_id=owner_id,
        now=now,
    )
    return attrs.evolve(
        decision,
        rerouted_from=current,
        explanation=f"The assignee was deactivated; routed again. {decision.explanation}",
    )


def check_routing_settings(settings: RoutingSettings, snapshot: DirectorySnapshot) -> list[Problem]:
    """Everything wrong with a channel's routing settings, for the settings form.

    ``snapshot`` must hold the selected users, the selected teams and their members (presence
    and counts are not needed). An empty list means the settings can be saved.
    """
    problems = _mode_problems(settings)
    if RoutingMode.USERS_AND_TEAMS not in (settings.mode, settings.fallback):
        return problems
    if not settings.user_ids and not settings.team_ids:
        problems.append(
            Problem(
                code="routing.no_candidates",
                message="Select at least one user or team to assign conversations to.",
                field="routing.user_ids",
            )
        )
        return problems
    problems += _user_problems(settings, snapshot)
    problems += _team_problems(settings, snapshot)
    if not any(snapshot.is_active(u) for u in candidate_ids(settings, snapshot.teams)):
        problems.append(
            Problem(
                code="routing.no_active_candidates",
                message="Nobody among the selected users and teams is active.",
                field="routing.user_ids",
            )
        )
    return problems


def _mode_problems(settings: RoutingSettings) -> list[Problem]:
    """What is wrong with the cap and the fallback, whoever the candidates are."""
    problems: list[Problem] = []
    cap = settings.max_open_per_agent
    if cap is not None and cap < 1:
        problems.append(
            Problem(
                code="routing.cap_invalid",
                message="The maximum of open conversations per agent must be at least 1.",
                field="routing.max_open_per_agent",
            )
        )
    if settings.mode is not RoutingMode.UNASSIGNED and settings.fallback is settings.mode:
        problems.append(
            Problem(
                code="routing.fallback_same_as_mode",
                message="The fallback must differ from the routing mode; choose 'unassigned'.",
                field="routing.fallback",
            )
        )
    return problems


def _user_problems(settings: RoutingSettings, snapshot: DirectorySnapshot) -> list[Problem]:
    """Selected users that do not exist or are deactivated, each named once."""
    problems: list[Problem] = []
    for uid in dict.fromkeys(settings.user_ids):
        user = snapshot.users.get(uid)
        if user is None:
            problems.append(
                Problem(
                    code="routing.unknown_user",
                    message=f"User {uid} does not exist.",
                    field="routing.user_ids",
                )
            )
        elif not user.active:
            problems.append(
                Problem(
                    code="routing.inactive_user",
                    message=f"User {user.full_name or uid} is deactivated.",
                    field="routing.user_ids",
                )
            )
    return problems


def _team_problems(settings: RoutingSettings, snapshot: DirectorySnapshot) -> list[Problem]:
    """Selected teams that do not exist or have no active member, each named once."""
    problems: list[Problem] = []
    for tid in dict.fromkeys(settings.team_ids):
        team = snapshot.teams.get(tid)
        if team is None:
            problems.append(
                Problem(
                    code="routing.unknown_team",
                    message=f"Team {tid} does not exist.",
                    field="routing.team_ids",
                )
            )
        elif not any(snapshot.is_active(m) for m in team.member_ids):
            problems.append(
                Problem(
                    code="routing.empty_team",
                    message=f"Team {team.name or tid} has no active members.",
                    field="routing.team_ids",
                )
            )
    return problems
