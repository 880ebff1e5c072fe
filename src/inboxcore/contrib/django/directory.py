"""The host's users as inboxcore's agents: a :class:`~inboxcore.ports.Directory` on
``settings.AUTH_USER_MODEL``.

A Django site is one inboxcore account (``account_id``): every user of the user table is one of
its agents, with id ``str(pk)``, email from the model's ``EMAIL_FIELD`` (or the field named),
first and last name from ``first_name``/``last_name`` when the model has them. ``is_active`` is
both active and available (Django knows no presence). Teams are Django's groups (team id
``str(group.pk)``), or none at all with ``teams=None``. A user whose email is empty or invalid is
no agent: it is left out, never an error.
"""

from __future__ import annotations

from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress
from inboxcore.domain.ids import AccountId, TeamId, UserId
from inboxcore.domain.model import Team, User

__all__ = ["UserDirectory"]


class UserDirectory:
    """The :class:`~inboxcore.ports.Directory` of the users of ``AUTH_USER_MODEL`` on the
    database alias ``using``."""

    def __init__(
        self,
        account_id: str,
        *,
        using: str = "default",
        email_field: str | None = None,
        teams: Literal["groups"] | None = "groups",
    ) -> None:
        self._account_id = AccountId(account_id)
        self._using = using
        self._model: Any = get_user_model()
        self._email_field = email_field or self._model.get_email_field_name()
        self._teams = teams

    def _users(self) -> Any:
        return self._model._default_manager.using(self._using)

    def _user(self, row: Any) -> User | None:
        try:
            email = EmailAddress.parse(getattr(row, self._email_field) or "")
        except InvalidEmailAddress:
            return None
        return User(
            id=UserId(str(row.pk)),
            account_id=self._account_id,
            email=email,
            first_name=getattr(row, "first_name", "") or "",
            last_name=getattr(row, "last_name", "") or "",
            active=bool(getattr(row, "is_active", True)),
        )

    def user(self, user_id: UserId) -> User | None:
        row = _by_key(self._users(), user_id)
        return self._user(row) if row is not None else None

    def user_by_email(self, account_id: AccountId, email_key: str) -> User | None:
        if account_id != self._account_id:
            return None
        rows = self._users().filter(**{f"{self._email_field}__iexact": email_key})
        found = (self._user(row) for row in rows.order_by("pk"))
        return next((u for u in found if u is not None and u.email.key == email_key.lower()), None)

    def users(self, account_id: AccountId) -> tuple[User, ...]:
        if account_id != self._account_id:
            return ()
        found = (self._user(row) for row in self._users().order_by("pk"))
        return tuple(u for u in found if u is not None)

    def team(self, team_id: TeamId) -> Team | None:
        if self._teams != "groups":
            return None
        from django.contrib.auth.models import Group

        group = _by_key(Group.objects.using(self._using), team_id)
        if group is None:
            return None
        members = self._users().filter(groups=group).order_by("pk").values_list("pk", flat=True)
        return Team(
            id=TeamId(str(group.pk)),
            account_id=self._account_id,
            name=group.name,
            member_ids=tuple(UserId(str(pk)) for pk in members),
        )

    def is_available(self, user_id: UserId) -> bool:
        user = self.user(user_id)
        return user is not None and user.active


def _by_key(rows: Any, key: str) -> Any:
    """The row with primary key ``key``, or None: ids are ``str(pk)``, and an id that cannot be
    a key of this table (``"abc"`` for an integer key) is an unknown one, not a database error."""
    try:
        return rows.filter(pk=key).first()
    except (ValueError, TypeError, ValidationError):
        return None
