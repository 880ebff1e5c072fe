"""The inbound HTTP intake as a pure ASGI application: no framework, no extra to install.

Mount it under any ASGI server or framework (uvicorn, Starlette, FastAPI, Django's ASGI router):

    app = inbound_app(inbox, provider=Provider.MAILGUN, secret=signing_key)

It answers what :meth:`~inboxcore.entrypoints.http_intake.HttpIntake.check_declared` decides
before reading anything, then reads the body chunk by chunk and **stops at the limit** (a
``413``): it never holds more than ``max_bytes`` of a body in memory. The POST itself is handled
in a worker thread (:func:`asyncio.to_thread`), since storage and DNS block; the answer is sent
only once that returned, so a 2xx always means the message is committed. Keep the number of
worker threads at or below the storage's connection pool (one unit of work each). Statuses,
providers and limits: ``docs/http-intake.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any

from inboxcore.app.service import InboxService
from inboxcore.entrypoints.http_intake import (
    DEFAULT_MAX_AGE,
    HttpAnswer,
    HttpIntake,
    HttpRequest,
    Provider,
    TokenLedger,
)

__all__ = ["InboundApp", "inbound_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _ClientGone(Exception):
    """The client disconnected before the body was complete: there is no one to answer."""


class InboundApp:
    """An ASGI application around one :class:`~inboxcore.entrypoints.http_intake.HttpIntake`
    (a class, not a function, so that routers mount it as an application)."""

    def __init__(self, intake: HttpIntake) -> None:
        self.intake = intake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"the inbound app serves HTTP, not {scope['type']}")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        method = str(scope["method"])
        answer = self.intake.check_declared(method, headers)
        if answer is None:
            try:
                body = await _read_body(receive, self.intake.max_bytes)
            except _ClientGone:
                return
            if body is None:
                answer = self.intake.too_large()
            else:
                request = HttpRequest(method=method, path=_path(scope), headers=headers, body=body)
                answer = await asyncio.to_thread(self.intake.handle, request)
        await _send_answer(send, answer)


def inbound_app(
    inbox: InboxService,
    *,
    provider: Provider | str,
    secret: str,
    max_bytes: int | None = None,
    recipient: str | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    tokens: TokenLedger | None = None,
) -> InboundApp:
    """The ASGI application of one inbound URL; the options are those of
    :class:`~inboxcore.entrypoints.http_intake.HttpIntake`."""
    intake = HttpIntake(
        inbox,
        provider=Provider(provider),
        secret=secret,
        recipient=recipient,
        max_bytes=max_bytes,
        max_age=max_age,
        tokens=tokens,
    )
    return InboundApp(intake)


def _path(scope: Scope) -> str:
    query = scope.get("query_string", b"")
    path = str(scope.get("path", "/"))
    return f"{path}?{query.decode('latin-1')}" if query else path


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body, or None as soon as it passes ``limit`` bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_answer(send: Send, answer: HttpAnswer) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: the inbox is the host's. Served alone, the app says so."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
