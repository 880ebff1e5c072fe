"""The Django app of inboxcore."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["InboxcoreConfig"]


class InboxcoreConfig(AppConfig):
    """``inboxcore.contrib.django``, labelled ``inboxcore`` (its tables are ``inboxcore_*``)."""

    name = "inboxcore.contrib.django"
    label = "inboxcore"
    verbose_name = "Inbox"
    default_auto_field = "django.db.models.BigAutoField"
