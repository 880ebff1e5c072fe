"""The inbound HTTP intake as a FastAPI router (extra ``fastapi``).

    app.include_router(inbound_router(inbox, path="/inbound/mailgun", provider="mailgun",
                                      secret=signing_key))

The route is the ASGI application of :mod:`inboxcore.contrib.asgi`, mounted as it is: FastAPI
neither reads nor parses the body first, so the size limit holds before the body is read, and
the statuses are those of ``docs/http-intake.md`` (a non-POST is the intake's own 405). The
route is left out of the OpenAPI schema: providers, not people, call it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from starlette.routing import Route

from inboxcore.app.service import InboxService
from inboxcore.contrib.asgi import inbound_app
from inboxcore.entrypoints.http_intake import DEFAULT_MAX_AGE, Provider, TokenLedger

__all__ = ["inbound_router"]


def inbound_router(
    inbox: InboxService,
    *,
    path: str = "/inbound",
    provider: Provider | str,
    secret: str,
    max_bytes: int | None = None,
    recipient: str | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    tokens: TokenLedger | None = None,
) -> APIRouter:
    """A router with one route at ``path`` (it may hold a parameter, ``/inbound/{secret}``, for
    a secret in the URL) receiving ``provider``'s POSTs into ``inbox``."""
    app = inbound_app(
        inbox,
        provider=provider,
        secret=secret,
        max_bytes=max_bytes,
        recipient=recipient,
        max_age=max_age,
        tokens=tokens,
    )
    # An endpoint that is not a function is mounted as an ASGI application, with no method
    # filter: the intake answers every method itself.
    route = Route(path, endpoint=app, include_in_schema=False, name="inboxcore-inbound")
    return APIRouter(routes=[route])
