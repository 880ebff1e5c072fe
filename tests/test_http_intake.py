"""The inbound HTTP intake, framework-free: each provider's legitimate POST beside its forged
twin, the checks made before the body is read, and the status of every verdict."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from inboxcore import Conversation
from inboxcore.entrypoints._http_forms import FormError, parse_form
from inboxcore.entrypoints.http_intake import (
    RETRY_AFTER_SECONDS,
    HttpAnswer,
    HttpIntake,
    HttpRequest,
    Provider,
    RecentTokens,
    TokenLedger,
    body_limit,
)
from inboxcore.testing import FlakyStorage, InMemoryDns, InMemoryRawStore, InMemoryStorage
from tests.http_support import (
    ADDRESS,
    NOW,
    RAW,
    SECRET,
    SIGNING_KEY,
    basic,
    headers_for,
    mailgun_fields,
    make_inbox,
    multipart,
    postmark_body,
    sendgrid_fields,
    urlencoded,
)


def post(
    intake: HttpIntake, body: bytes, content_type: str, *extra: tuple[str, str], path: str = "/in"
) -> HttpAnswer:
    request = HttpRequest(
        method="POST", path=path, headers=headers_for(body, content_type, *extra), body=body
    )
    return intake.handle(request)


def error_of(answer: HttpAnswer) -> str:
    data = answer.json()
    assert isinstance(data, dict)
    return str(data["error"])


def verdict_of(answer: HttpAnswer) -> str:
    data = answer.json()
    assert isinstance(data, dict)
    return str(data["verdict"])


def conversations(storage: InMemoryStorage | FlakyStorage[InMemoryStorage]) -> int:
    return len(storage.records(Conversation))


# --- Mailgun ----------------------------------------------------------------------------------


def mailgun(
    tokens: TokenLedger | None = None,
) -> tuple[HttpIntake, InMemoryStorage, InMemoryRawStore]:
    inbox, storage, raw_store = make_inbox()
    intake = HttpIntake(inbox, provider=Provider.MAILGUN, secret=SIGNING_KEY, tokens=tokens)
    return intake, storage, raw_store


def test_mailgun_signed_post_is_received_byte_for_byte() -> None:
    intake, storage, raw_store = mailgun()
    answer = post(intake, *multipart(mailgun_fields()))
    assert answer.status == 200
    assert verdict_of(answer) == "accepted"
    data = answer.json()
    assert isinstance(data, dict)
    assert raw_store.get(data["raw_id"]) == RAW  # the 8-bit body unchanged: DKIM still holds
    assert conversations(storage) == 1


def test_mailgun_urlencoded_post_is_received_byte_for_byte() -> None:
    intake, _, raw_store = mailgun()
    answer = post(intake, *urlencoded(mailgun_fields()))
    assert verdict_of(answer) == "accepted"
    data = answer.json()
    assert isinstance(data, dict)
    assert raw_store.get(data["raw_id"]) == RAW


def test_mailgun_post_signed_with_another_key_is_forbidden_and_not_stored() -> None:
    intake, storage, raw_store = mailgun()
    answer = post(intake, *multipart(mailgun_fields(key="key-of-someone-else")))
    assert (answer.status, error_of(answer)) == (403, "bad_signature")
    assert conversations(storage) == 0
    assert raw_store.ids() == ()


def test_mailgun_post_with_a_tampered_message_keeps_its_signature_but_not_the_fields() -> None:
    """Mailgun signs only timestamp and token: a forged signature field fails, whatever else."""
    intake, _, _ = mailgun()
    fields = mailgun_fields()
    fields["signature"] = b"0" * 64
    assert error_of(post(intake, *multipart(fields))) == "bad_signature"


def test_mailgun_stale_timestamp_is_forbidden() -> None:
    intake, storage, _ = mailgun()
    old = int(NOW.timestamp()) - 11 * 60
    answer = post(intake, *multipart(mailgun_fields(timestamp=old)))
    assert (answer.status, error_of(answer)) == (403, "stale_timestamp")
    assert conversations(storage) == 0


def test_mailgun_timestamp_within_the_window_is_fresh() -> None:
    intake, _, _ = mailgun()
    recent = int(NOW.timestamp()) - 9 * 60
    assert post(intake, *multipart(mailgun_fields(timestamp=recent))).status == 200


def test_mailgun_replayed_token_is_forbidden() -> None:
    intake, storage, _ = mailgun()
    body = multipart(mailgun_fields())
    assert post(intake, *body).status == 200
    again = post(intake, *body)
    assert (again.status, error_of(again)) == (403, "replayed_token")
    assert conversations(storage) == 1


def test_mailgun_retry_after_a_503_is_not_a_replay() -> None:
    """The token is remembered only with a final answer: the provider's retry is let in."""
    inbox, storage, raw_store = make_inbox()
    intake = HttpIntake(inbox, provider=Provider.MAILGUN, secret=SIGNING_KEY)
    body = multipart(mailgun_fields())
    raw_store.fail_next_puts(1)
    assert post(intake, *body).status == 503
    assert post(intake, *body).status == 200
    assert conversations(storage) == 1


def test_mailgun_dns_failing_is_a_503_so_that_mailgun_retries() -> None:
    """A DNS failure that could change the verdict: Mailgun retries for hours, so it is asked
    to (as an SMTP client would be, 451), and its token stays usable for the retry."""
    dns = InMemoryDns({})
    inbox, _, _ = make_inbox(dns=dns)
    intake = HttpIntake(inbox, provider=Provider.MAILGUN, secret=SIGNING_KEY)
    dns.fail("_dmarc.customer.example")
    answer = post(intake, *multipart(mailgun_fields()))
    data = answer.json()
    assert isinstance(data, dict)
    assert (answer.status, data["verdict"], data["reasons"]) == (
        503,
        "deferred",
        ["dmarc.temperror"],
    )
    assert dict(answer.headers)["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert not intake.tokens.seen("a" * 50)


def test_mailgun_rejection_is_406_which_mailgun_does_not_retry() -> None:
    intake, storage, _ = mailgun()
    answer = post(intake, *multipart(mailgun_fields(recipient="nobody@acme.inbox.example.net")))
    assert answer.status == 406
    assert verdict_of(answer) == "rejected"
    assert conversations(storage) == 0


def test_mailgun_post_without_body_mime_asks_for_the_mime_url() -> None:
    intake, _, _ = mailgun()
    fields = mailgun_fields()
    del fields["body-mime"]
    answer = post(intake, *multipart(fields))
    assert (answer.status, error_of(answer)) == (400, "no_raw_message")


def test_mailgun_ledger_can_be_shared() -> None:
    """Two web processes behind one URL share their ledger: a token one answered is a replay
    at the other."""
    tokens = RecentTokens(timedelta(minutes=10))
    first, _, _ = mailgun(tokens=tokens)
    second, _, _ = mailgun(tokens=tokens)
    body = multipart(mailgun_fields())
    assert post(first, *body).status == 200
    assert error_of(post(second, *body)) == "replayed_token"


def test_recent_tokens_forget_what_is_older_than_the_window_and_past_the_cap() -> None:
    tokens = RecentTokens(timedelta(minutes=10), max_entries=2)
    tokens.remember("old", NOW)
    tokens.remember("new", NOW + timedelta(minutes=11))
    assert (tokens.seen("old"), tokens.seen("new")) == (False, True)
    tokens.remember("b", NOW + timedelta(minutes=11))
    tokens.remember("c", NOW + timedelta(minutes=11))
    assert (tokens.seen("new"), tokens.seen("b"), tokens.seen("c")) == (False, True, True)


# --- SendGrid ---------------------------------------------------------------------------------


def sendgrid() -> tuple[HttpIntake, InMemoryStorage]:
    inbox, storage, _ = make_inbox()
    return HttpIntake(inbox, provider=Provider.SENDGRID, secret=SECRET), storage


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        (f"/inbound/sendgrid/{SECRET}", ()),
        (f"/inbound/sendgrid?secret={SECRET}", ()),
        ("/inbound/sendgrid", (basic(SECRET),)),
    ],
    ids=["path", "query", "basic"],
)
def test_sendgrid_post_with_the_secret_is_received(
    path: str, extra: tuple[tuple[str, str], ...]
) -> None:
    intake, storage = sendgrid()
    answer = post(intake, *multipart(sendgrid_fields()), *extra, path=path)
    assert (answer.status, verdict_of(answer)) == (200, "accepted")
    assert conversations(storage) == 1


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/inbound/sendgrid/not-the-secret", ()),
        ("/inbound/sendgrid?secret=not-the-secret", ()),
        ("/inbound/sendgrid", (basic("not-the-secret"),)),
        ("/inbound/sendgrid", ()),
    ],
    ids=["path", "query", "basic", "none"],
)
def test_sendgrid_post_without_the_secret_is_unauthorized(
    path: str, extra: tuple[tuple[str, str], ...]
) -> None:
    intake, storage = sendgrid()
    answer = post(intake, *multipart(sendgrid_fields()), *extra, path=path)
    assert (answer.status, error_of(answer)) == (401, "bad_credentials")
    assert dict(answer.headers)["www-authenticate"].startswith("Basic")
    assert conversations(storage) == 0


def test_sendgrid_rejection_is_a_200_with_the_verdict() -> None:
    """SendGrid retries anything but a 2xx for three days: a final rejection is a 200."""
    intake, _ = sendgrid()
    fields = sendgrid_fields(to="nobody@acme.inbox.example.net")
    answer = post(intake, *multipart(fields), path=f"/in/{SECRET}")
    assert (answer.status, verdict_of(answer)) == (200, "rejected")


def test_sendgrid_parsed_post_asks_for_the_raw_message() -> None:
    intake, _ = sendgrid()
    fields = sendgrid_fields()
    del fields["email"]
    answer = post(intake, *multipart(fields), path=f"/in/{SECRET}")
    assert (answer.status, error_of(answer)) == (400, "no_raw_message")


def test_sendgrid_envelope_that_is_not_json_is_malformed() -> None:
    intake, _ = sendgrid()
    fields = sendgrid_fields()
    fields["envelope"] = b"{not json"
    answer = post(intake, *multipart(fields), path=f"/in/{SECRET}")
    assert (answer.status, error_of(answer)) == (400, "malformed")


# --- Postmark ---------------------------------------------------------------------------------


def postmark() -> tuple[HttpIntake, InMemoryStorage]:
    inbox, storage, _ = make_inbox()
    return HttpIntake(inbox, provider=Provider.POSTMARK, secret=SECRET), storage


def test_postmark_post_with_basic_credentials_is_received() -> None:
    intake, storage = postmark()
    answer = post(intake, postmark_body(), "application/json", basic(SECRET))
    assert (answer.status, verdict_of(answer)) == (200, "accepted")
    assert conversations(storage) == 1


def test_postmark_post_with_wrong_credentials_is_unauthorized() -> None:
    """A 401, not a 403: Postmark stops retrying at a 403, and a secret being rotated should
    not lose mail."""
    intake, storage = postmark()
    answer = post(intake, postmark_body(), "application/json", basic("guess"))
    assert (answer.status, error_of(answer)) == (401, "bad_credentials")
    assert conversations(storage) == 0


def test_postmark_rejection_is_403_which_postmark_does_not_retry() -> None:
    intake, _ = postmark()
    body = postmark_body(to="nobody@acme.inbox.example.net")
    answer = post(intake, body, "application/json", basic(SECRET))
    assert (answer.status, verdict_of(answer)) == (403, "rejected")


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"{not json", "malformed"), (b"[1]", "malformed"), (b'{"Subject": "x"}', "no_raw_message")],
)
def test_postmark_body_without_a_raw_message_is_a_400(body: bytes, error: str) -> None:
    intake, _ = postmark()
    answer = post(intake, body, "application/json", basic(SECRET))
    assert (answer.status, error_of(answer)) == (400, error)


# --- raw --------------------------------------------------------------------------------------


def raw_intake(
    storage: InMemoryStorage | None = None, raw_store: InMemoryRawStore | None = None
) -> tuple[HttpIntake, InMemoryStorage, InMemoryRawStore]:
    inbox, storage, raw_store = make_inbox(storage, raw_store)
    return HttpIntake(inbox, provider=Provider.RAW, secret=SECRET), storage, raw_store


def raw_post(intake: HttpIntake, raw: bytes = RAW, secret: str = SECRET) -> HttpAnswer:
    return post(
        intake,
        raw,
        "message/rfc822",
        ("Authorization", f"Bearer {secret}"),
        ("X-Envelope-To", ADDRESS),
        ("X-Envelope-From", "ada@customer.example"),
    )


def test_raw_post_with_the_bearer_secret_is_received() -> None:
    intake, _, raw_store = raw_intake()
    answer = raw_post(intake)
    assert (answer.status, verdict_of(answer)) == (200, "accepted")
    data = answer.json()
    assert isinstance(data, dict)
    (stored,) = raw_store.received(before=NOW + timedelta(days=1))
    assert stored.raw_id == data["raw_id"]
    assert stored.envelope is not None
    assert (stored.envelope.rcpt_to, stored.envelope.mail_from) == (
        (ADDRESS,),
        "ada@customer.example",
    )


def test_raw_post_with_a_wrong_bearer_secret_is_unauthorized() -> None:
    intake, storage, _ = raw_intake()
    answer = raw_post(intake, secret="guess")
    assert (answer.status, error_of(answer)) == (401, "bad_credentials")
    assert dict(answer.headers)["www-authenticate"].startswith("Bearer")
    assert conversations(storage) == 0


def test_a_duplicate_post_is_a_200_and_one_record() -> None:
    intake, storage, _ = raw_intake()
    assert verdict_of(raw_post(intake)) == "accepted"
    again = raw_post(intake)
    assert (again.status, verdict_of(again)) == (200, "duplicate")
    assert conversations(storage) == 1


def test_the_configured_recipient_wins_over_the_posted_one() -> None:
    inbox, _, _ = make_inbox()
    intake = HttpIntake(inbox, provider=Provider.RAW, secret=SECRET, recipient=ADDRESS)
    answer = post(
        intake,
        RAW,
        "message/rfc822",
        ("Authorization", f"Bearer {SECRET}"),
        ("X-Envelope-To", "nobody@acme.inbox.example.net"),
    )
    assert verdict_of(answer) == "accepted"


# --- storage failing: 503, nothing recorded ---------------------------------------------------


def test_storage_refusing_commits_is_a_503_with_retry_after_and_nothing_recorded() -> None:
    storage = InMemoryStorage()
    intake, _, _ = raw_intake(storage)
    storage.fail_next_commits(10)
    answer = raw_post(intake)
    assert answer.status == 503
    assert dict(answer.headers)["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert conversations(storage) == 0
    assert storage.intake_records() == ()


def test_raw_store_refusing_the_message_is_a_503_and_nothing_recorded() -> None:
    raw_store = InMemoryRawStore()
    intake, storage, _ = raw_intake(raw_store=raw_store)
    raw_store.fail_next_puts(10)
    answer = raw_post(intake)
    assert answer.status == 503
    assert "retry-after" in dict(answer.headers)
    assert (conversations(storage), storage.intake_records(), raw_store.ids()) == (0, (), ())


def test_a_port_that_raises_is_a_503_and_nothing_recorded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever a host's port raises, the provider hears "later", never a 2xx or a 500."""
    intake, storage, _ = raw_intake()

    def broken_unit_of_work() -> object:
        raise RuntimeError("the connection pool is closed")

    monkeypatch.setattr(storage, "unit_of_work", broken_unit_of_work)
    with caplog.at_level(logging.ERROR, logger="inboxcore.http_intake"):
        answer = raw_post(intake)
    assert (answer.status, error_of(answer)) == (503, "internal_error")
    assert "retry-after" in dict(answer.headers)
    monkeypatch.undo()
    assert (conversations(storage), storage.intake_records()) == (0, ())


# --- before the body is read ------------------------------------------------------------------


def plain_intake(max_bytes: int | None = None) -> HttpIntake:
    inbox, _, _ = make_inbox()
    return HttpIntake(inbox, provider=Provider.RAW, secret=SECRET, max_bytes=max_bytes)


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE"])
def test_anything_but_post_is_405_with_allow_post(method: str) -> None:
    answer = plain_intake().check_declared(method, {"Content-Length": "10"})
    assert answer is not None
    assert answer.status == 405
    assert dict(answer.headers)["allow"] == "POST"


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({"Content-Type": "message/rfc822"}, 411, "length_required"),
        ({"Content-Type": "message/rfc822", "Content-Length": "1001"}, 413, "too_large"),
        ({"Content-Type": "message/rfc822", "Content-Length": "-1"}, 400, "bad_content_length"),
        ({"Content-Type": "message/rfc822", "Content-Length": "\u00b2"}, 400, "bad_content_length"),
        ({"Content-Type": "text/plain", "Content-Length": "10"}, 415, "unsupported_media_type"),
        ({"Content-Length": "10"}, 415, "unsupported_media_type"),
    ],
)
def test_the_headers_alone_decide(headers: dict[str, str], status: int, error: str) -> None:
    answer = plain_intake(max_bytes=1000).check_declared("POST", headers)
    assert answer is not None
    assert (answer.status, error_of(answer)) == (status, error)


def test_declared_size_at_the_limit_is_let_through() -> None:
    headers = {"content-type": "message/rfc822; charset=binary", "content-length": "1000"}
    assert plain_intake(max_bytes=1000).check_declared("POST", headers) is None


def test_a_body_longer_than_the_limit_is_413_even_when_declared_smaller() -> None:
    intake = plain_intake(max_bytes=100)
    body = RAW
    request = HttpRequest(
        method="POST",
        path="/in",
        headers=[
            ("Content-Type", "message/rfc822"),
            ("Content-Length", "10"),
            ("Authorization", f"Bearer {SECRET}"),
        ],
        body=body,
    )
    assert intake.handle(request).status == 413


def test_the_default_limit_follows_the_inbox_message_limit() -> None:
    inbox, _, _ = make_inbox()
    intake = HttpIntake(inbox, provider=Provider.RAW, secret=SECRET)
    assert intake.max_bytes == body_limit(inbox.config.intake.max_message_size)


def test_an_empty_secret_is_refused_at_construction() -> None:
    inbox, _, _ = make_inbox()
    with pytest.raises(ValueError, match="secret"):
        HttpIntake(inbox, provider=Provider.RAW, secret="")


def test_non_post_through_handle_is_405_too() -> None:
    answer = plain_intake().handle(HttpRequest(method="GET", path="/in"))
    assert answer.status == 405


# --- forms ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b"--b\r\n\r\n1\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"--b\r\nX-Other: 1\r\n\r\n1\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"--b\r\nno blank line--b--", "multipart/form-data; boundary=b"),
        (b"x", "multipart/form-data"),
        (b"a=%ZZ&&=", "application/x-www-form-urlencoded"),
        (b"\xff=1", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
        (b"no delimiter at all", "multipart/form-data; boundary=b"),
        (b"--" + b"b" * 71 + b"--", "multipart/form-data; boundary=" + "b" * 71),
    ],
    ids=[
        "unclosed",
        "no-disposition",
        "no-name",
        "no-blank-line",
        "no-boundary",
        "bad-escape",
        "not-ascii",
        "not-a-form",
        "no-delimiter",
        "boundary-too-long",
    ],
)
def test_malformed_forms_are_a_form_error(body: bytes, content_type: str) -> None:
    with pytest.raises(FormError):
        parse_form(body, content_type)


def test_a_form_with_too_many_fields_is_a_form_error() -> None:
    body, content_type = multipart({f"f{n}": b"x" for n in range(201)})
    with pytest.raises(FormError, match="fields"):
        parse_form(body, content_type)


def test_a_malformed_mailgun_form_is_a_400() -> None:
    intake, _, _ = mailgun()
    answer = post(intake, b"--b\r\n", "multipart/form-data; boundary=b")
    assert (answer.status, error_of(answer)) == (400, "malformed")


def test_multipart_keeps_a_preamble_out_and_every_byte_of_a_value_in() -> None:
    body = (
        b'preamble\r\n--b\r\nContent-Disposition: form-data; name="m"\r\n\r\n'
        b"a\r\n\r\n--not-b\xff\r\n--b--\r\nepilogue"
    )
    assert parse_form(body, "multipart/form-data; boundary=b") == {"m": b"a\r\n\r\n--not-b\xff"}
