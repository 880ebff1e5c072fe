"""The inbound intake as an ASGI application and a FastAPI router, driven through an ASGI
client (httpx.ASGITransport; starlette's TestClient warns about httpx here) and, for the body limit, through raw ASGI calls whose body stream
fails if read past the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from inboxcore import Conversation
from inboxcore.contrib.asgi import InboundApp, inbound_app
from inboxcore.contrib.fastapi import inbound_router
from inboxcore.entrypoints.http_intake import Provider
from tests.http_support import (
    ADDRESS,
    RAW,
    SECRET,
    SIGNING_KEY,
    mailgun_fields,
    make_inbox,
    multipart,
    sendgrid_fields,
)

RAW_HEADERS = {
    "Content-Type": "message/rfc822",
    "Authorization": f"Bearer {SECRET}",
    "X-Envelope-To": ADDRESS,
}


def call(app: Any, method: str, path: str, **options: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://inbox.test") as client:
            return await client.request(method, path, **options)

    return asyncio.run(go())


def test_raw_post_through_asgi_is_received_and_answered_200() -> None:
    inbox, storage, raw_store = make_inbox()
    app = inbound_app(inbox, provider="raw", secret=SECRET)
    response = call(app, "POST", "/inbound", content=RAW, headers=RAW_HEADERS)
    assert response.status_code == 200
    assert response.json()["verdict"] == "accepted"
    assert raw_store.get(response.json()["raw_id"]) == RAW
    assert len(storage.records(Conversation)) == 1


def test_mailgun_signed_and_forged_posts_through_asgi() -> None:
    inbox, storage, _ = make_inbox()
    app = inbound_app(inbox, provider=Provider.MAILGUN, secret=SIGNING_KEY)
    forged, content_type = multipart(mailgun_fields(key="not-the-key", token="f" * 50))
    response = call(app, "POST", "/mime", content=forged, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()["error"]) == (403, "bad_signature")
    signed, content_type = multipart(mailgun_fields())
    response = call(app, "POST", "/mime", content=signed, headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert len(storage.records(Conversation)) == 1


def test_sendgrid_secret_in_the_query_string_reaches_the_intake() -> None:
    inbox, _, _ = make_inbox()
    app = inbound_app(inbox, provider="sendgrid", secret=SECRET)
    body, content_type = multipart(sendgrid_fields())
    headers = {"Content-Type": content_type}
    wrong = call(app, "POST", "/in?secret=guess", content=body, headers=headers)
    right = call(app, "POST", f"/in?secret={SECRET}", content=body, headers=headers)
    assert (wrong.status_code, right.status_code) == (401, 200)


def test_get_is_405_with_allow_post() -> None:
    inbox, _, _ = make_inbox()
    response = call(inbound_app(inbox, provider="raw", secret=SECRET), "GET", "/inbound")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_storage_failing_through_asgi_is_503_and_nothing_recorded() -> None:
    inbox, storage, raw_store = make_inbox()
    raw_store.fail_next_puts(1)
    app = inbound_app(inbox, provider="raw", secret=SECRET)
    response = call(app, "POST", "/inbound", content=RAW, headers=RAW_HEADERS)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert (storage.records(Conversation), storage.intake_records()) == ((), ())


def test_a_duplicate_post_through_asgi_is_200_and_one_record() -> None:
    inbox, storage, _ = make_inbox()
    app = inbound_app(inbox, provider="raw", secret=SECRET)
    first = call(app, "POST", "/inbound", content=RAW, headers=RAW_HEADERS)
    second = call(app, "POST", "/inbound", content=RAW, headers=RAW_HEADERS)
    assert [first.json()["verdict"], second.json()["verdict"]] == ["accepted", "duplicate"]
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(storage.records(Conversation)) == 1


# --- the body limit, on raw ASGI calls ----------------------------------------------------------


class GuardedBody:
    """An ASGI ``receive`` yielding ``chunks``, failing the test if asked for one more after
    ``allowed`` of them were handed out."""

    def __init__(self, chunks: list[bytes], allowed: int) -> None:
        self.chunks, self.allowed, self.handed = chunks, allowed, 0

    async def __call__(self) -> dict[str, Any]:
        if self.handed >= self.allowed:
            pytest.fail(f"the app read chunk {self.handed + 1} of the body, past the limit")
        index = self.handed
        self.handed += 1
        more = index + 1 < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[index], "more_body": more}


def run_asgi(
    app: InboundApp, receive: GuardedBody, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/inbound",
        "query_string": b"",
        "headers": headers,
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_declared_oversize_is_413_before_any_of_the_body_is_read() -> None:
    inbox, _, _ = make_inbox()
    app = inbound_app(inbox, provider="raw", secret=SECRET, max_bytes=100)
    body = GuardedBody([b"x" * 1000], allowed=0)
    headers = [(b"content-type", b"message/rfc822"), (b"content-length", b"1000")]
    status, _, _ = run_asgi(app, body, headers)
    assert (status, body.handed) == (413, 0)


def test_a_body_growing_past_the_limit_is_413_and_read_no_further() -> None:
    """A body longer than its Content-Length says (or a server that does not check it): the app
    stops at the chunk that passes the limit and never asks for the next."""
    inbox, storage, _ = make_inbox()
    app = inbound_app(inbox, provider="raw", secret=SECRET, max_bytes=100)
    chunks = list(chunks_of(b"y" * 400, 40))
    body = GuardedBody(chunks, allowed=3)  # 120 bytes: the third chunk passes the limit
    headers = [(b"content-type", b"message/rfc822"), (b"content-length", b"90")]
    status, _, answer = run_asgi(app, body, headers)
    assert (status, body.handed) == (413, 3)
    assert b"too_large" in answer
    assert storage.intake_records() == ()


def test_a_client_gone_mid_body_gets_no_answer_and_nothing_is_stored() -> None:
    inbox, _, raw_store = make_inbox()
    app = inbound_app(inbox, provider="raw", secret=SECRET)
    sent: list[object] = []
    messages: Iterator[dict[str, Any]] = iter(
        [
            {"type": "http.request", "body": RAW[:10], "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: object) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"message/rfc822"), (b"content-length", b"500")],
    }
    asyncio.run(app(scope, receive, send))
    assert (sent, raw_store.ids()) == ([], ())


def test_the_app_answers_lifespan_and_refuses_websockets() -> None:
    inbox, _, _ = make_inbox()
    app = inbound_app(inbox, provider="raw", secret=SECRET)
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(app({"type": "websocket"}, receive, send))  # type: ignore[arg-type]


# --- FastAPI ------------------------------------------------------------------------------------


def fastapi_app(**options: Any) -> tuple[FastAPI, Any]:
    inbox, storage, _ = make_inbox()
    app = FastAPI()
    app.include_router(inbound_router(inbox, **options))
    return app, storage


def test_fastapi_router_receives_a_sendgrid_post_with_the_secret_in_the_path() -> None:
    app, storage = fastapi_app(path="/inbound/sendgrid/{key}", provider="sendgrid", secret=SECRET)
    body, content_type = multipart(sendgrid_fields())
    headers = {"Content-Type": content_type}
    forged = call(app, "POST", "/inbound/sendgrid/guess", content=body, headers=headers)
    legit = call(app, "POST", f"/inbound/sendgrid/{SECRET}", content=body, headers=headers)
    assert (forged.status_code, legit.status_code) == (401, 200)
    assert legit.json()["verdict"] == "accepted"
    assert len(storage.records(Conversation)) == 1


def test_fastapi_router_answers_methods_and_limits_itself() -> None:
    app, _ = fastapi_app(path="/inbound", provider="raw", secret=SECRET, max_bytes=100)
    get = call(app, "GET", "/inbound")
    big = call(app, "POST", "/inbound", content=RAW * 2, headers=RAW_HEADERS)
    schema = call(app, "GET", "/openapi.json").json()
    assert (get.status_code, get.headers["allow"]) == (405, "POST")
    assert get.json()["error"] == "method_not_allowed"  # the intake's answer, not the router's
    assert big.status_code == 413
    assert "/inbound" not in schema.get("paths", {})


def test_fastapi_router_through_httpx_asgi_transport() -> None:
    app, storage = fastapi_app(path="/inbound", provider="raw", secret=SECRET)
    response = call(app, "POST", "/inbound", content=RAW, headers=RAW_HEADERS)
    assert (response.status_code, response.json()["verdict"]) == (200, "accepted")
    assert len(storage.records(Conversation)) == 1
