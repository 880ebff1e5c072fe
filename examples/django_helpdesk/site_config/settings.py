"""A minimal Django site using inboxcore's app: SQLite, DNS off, the admin, the inbound view.

Development settings only (DEBUG, a fixed secret key, loopback hosts). ``HELPDESK_DATA`` names
the folder of the database and the raw mail (default: ``var/`` beside this project).
"""

import os
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("HELPDESK_DATA", BASE / "var"))
DATA.mkdir(parents=True, exist_ok=True)

DEBUG = True
HELPDESK_DEMO = True  # the example's conveniences (load_demo, /demo-login/): never in production
SECRET_KEY = "example only: never use this key in production"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "inboxcore.contrib.django",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "site_config.urls"
TEMPLATES = [
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
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA / "helpdesk.sqlite3",
        "CONN_MAX_AGE": None,  # a unit of work per message: keep the connection
        "OPTIONS": {"timeout": 30},
        # A file, not SQLite's in-memory test database: inboxcore's units of work may open a
        # connection of their own, which must see the same database.
        "TEST": {"NAME": str(DATA / "test-helpdesk.sqlite3")},
    }
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "inbox_mail": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA / "raw-mail"},
    },
}
STATIC_URL = "static/"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INBOXCORE = {
    "CONVERSATION_KEYS": ["example only: a conversation key of 16+ bytes"],
    "MESSAGE_ID_DOMAIN": "acme.inbox.example.net",
    "ACCOUNT_ID": "acme",
    "RAW_STORAGE": "inbox_mail",
    "DNS": "offline",  # the demo's mail is not authenticated; see load_demo
    "INBOUND": {"raw": {"SECRET": "example-relay-secret"}},
}
