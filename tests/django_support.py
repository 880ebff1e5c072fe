"""Django for the tests of ``inboxcore.contrib.django``: settings configured once per pytest
process, with the app's migrations applied on every database alias.

``default`` is SQLite in a temporary folder; ``postgres`` exists when ``INBOXCORE_TEST_POSTGRES``
is set, in a schema of its own (``inboxcore_django``) so that it never meets the SQL adapter's
tables. Admin tests can reuse the same setup: the contrib apps an admin needs are installed.
"""

from __future__ import annotations

import os
import tempfile
from urllib.parse import unquote, urlsplit

import pytest

from tests.sql_support import POSTGRES_ENV

POSTGRES_ALIAS = "postgres"
POSTGRES_SCHEMA = "inboxcore_django"
_RECORD_TABLES = (
    "inboxcore_accounts",
    "inboxcore_channels",
    "inboxcore_retired_addresses",
    "inboxcore_contacts",
    "inboxcore_conversations",
    "inboxcore_messages",
    "inboxcore_tickets",
    "inboxcore_rotations",
    "inboxcore_intake_log",
    "inboxcore_raw_receipts",
)
_state: dict[str, str] = {}


def _postgres_database(url: str) -> dict[str, object]:
    """Django's settings for the SQLAlchemy URL ``url``, in the tests' own schema."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": {"options": f"-c search_path={POSTGRES_SCHEMA}"},
    }


def _create_schema(database: dict[str, object]) -> None:
    import psycopg

    connect = {"dbname": database["NAME"], "user": database["USER"], "host": database["HOST"]}
    connect |= {"password": database["PASSWORD"], "port": database["PORT"] or None}
    with psycopg.connect(**connect, autocommit=True) as connection:  # type: ignore[arg-type]
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{POSTGRES_SCHEMA}"')


def setup_django() -> tuple[str, ...]:
    """Configure Django and migrate each alias, once per process; the aliases. Skips the test
    where Django is not installed."""
    pytest.importorskip("django", reason="needs the django extra")
    import django
    from django.conf import settings
    from django.core.management import call_command

    if "aliases" in _state:
        return tuple(_state["aliases"].split(","))
    folder = tempfile.mkdtemp(prefix="inboxcore-django-")
    databases: dict[str, dict[str, object]] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(folder, "db.sqlite3"),
            "OPTIONS": {"timeout": 30},
        }
    }
    url = os.environ.get(POSTGRES_ENV, "")
    if url:
        databases[POSTGRES_ALIAS] = _postgres_database(url)
        _create_schema(databases[POSTGRES_ALIAS])
    settings.configure(
        DATABASES=databases,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.admin",
            "django.contrib.sessions",
            "django.contrib.messages",
            "inboxcore.contrib.django",
        ],
        USE_TZ=True,
        TIME_ZONE="UTC",
        SECRET_KEY="inboxcore tests only",
        MEDIA_ROOT=os.path.join(folder, "media"),
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        # What the admin and the inbound view need: URLs, sessions, messages, templates.
        ROOT_URLCONF="tests.django_urls",
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
    )
    django.setup()
    for alias in databases:
        call_command("migrate", database=alias, verbosity=0, interactive=False)
    _state["aliases"] = ",".join(databases)
    _state["folder"] = folder
    return tuple(databases)


def postgres_alias() -> str:
    """The PostgreSQL alias; the test is skipped without ``INBOXCORE_TEST_POSTGRES``."""
    if POSTGRES_ALIAS not in setup_django():
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    return POSTGRES_ALIAS


def empty_tables(alias: str) -> None:
    """Delete every inboxcore row on ``alias``: each test starts from an empty store."""
    from django.db import connections

    with connections[alias].cursor() as cursor:
        for table in _RECORD_TABLES:
            cursor.execute(f"DELETE FROM {table}")


def scratch_folder() -> str:
    """The process's temporary folder of the Django setup."""
    setup_django()
    return _state["folder"]
