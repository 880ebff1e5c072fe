"""The inbound HTTP intake: a mail provider POSTs a received message, the inbox answers.

Framework-free and sans-I/O: a host's web framework hands over an :class:`HttpRequest` value
and sends back the :class:`HttpAnswer` value it gets (:mod:`inboxcore.contrib.asgi` and
:mod:`inboxcore.contrib.fastapi` do it for ASGI servers). The raw bytes go through the very
intake the LMTP receiver uses, :meth:`~inboxcore.app.service.InboxService.receive`, with an
envelope built from what the provider says it received (or the address configured here).

- **Before the body is read**, :meth:`HttpIntake.check_declared` answers what the method and
  headers alone decide: ``405`` (with ``Allow: POST``) for anything but POST, ``411`` without a
  ``Content-Length``, ``413`` for one over the limit, ``415`` for a content type the provider
  does not post.
- **Trust is earned**: each provider's POST proves its origin (Mailgun's signature, SNS's
  signature and topic, a shared secret, a bearer secret) before anything of it is used; see
  :class:`Provider`.
- **A 2xx means committed**: the answer is a 200 only once ``receive`` returned a final verdict,
  which it gives only once the intake record is committed. A temporary failure (storage down,
  a 4xx SMTP reply) and a port that raises are a ``503`` with ``Retry-After``: the provider
  keeps the message and posts it again, and intake answers a repeat as a duplicate.

| verdict or problem | status | why |
|---|---|---|
| accepted, duplicate, quarantined | 200 | committed; the provider is done |
| rejected (a 5xx SMTP reply) | Mailgun 406, Postmark 403, others 200 | each one's "do not retry" |
| an SNS subscription confirmed | 200 | nothing to store |
| deferred (a 4xx reply), a port raising | 503 + ``Retry-After`` | the provider retries |
| bad signature, stale, replayed, another SNS topic | 403 | not from the provider |
| wrong or missing shared secret | 401 + ``WWW-Authenticate`` | not from the provider |
| not a form, not JSON, no message in it | 400 | the provider's setup is wrong |

Every answer has a JSON body: ``{"verdict", "reasons", "smtp", "raw_id"}`` for a delivery,
``{"error", "message"}`` for a refusal. One log line per POST (logger
``inboxcore.http_intake``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from inboxcore.adapters.sns_http import fetch_sns_url
from inboxcore.app.service import Delivery, InboxService
from inboxcore.domain.model import Envelope
from inboxcore.domain.outcomes import Disposition
from inboxcore.entrypoints._http_forms import FormError, content_type
from inboxcore.entrypoints._http_messages import (
    Acknowledged,
    Headers,
    HttpAnswer,
    HttpRequest,
    Posted,
    ProviderCheck,
    Refusal,
    error_answer,
    header,
    json_answer,
)
from inboxcore.entrypoints._http_providers import ACCEPTED_TYPES, Provider, read_post
from inboxcore.entrypoints._http_replay import RecentTokens, TokenLedger
from inboxcore.entrypoints._http_sns import SnsCertificates, SnsFetch

__all__ = [
    "DEFAULT_MAX_AGE",
    "HttpAnswer",
    "HttpIntake",
    "HttpRequest",
    "Provider",
    "RETRY_AFTER_SECONDS",
    "RecentTokens",
    "TokenLedger",
    "body_limit",
]

log = logging.getLogger("inboxcore.http_intake")

RETRY_AFTER_SECONDS = 60
"""The ``Retry-After`` of a 503: a passing outage; providers keep their own back-off beyond it."""
DEFAULT_MAX_AGE = timedelta(minutes=10)
"""How old a signed POST may be (either way, for clock skew) before it is refused as stale."""
_ENCODING_ROOM = 1024 * 1024
"""Room for a form's other fields and its encoding around the message (see :func:`body_limit`)."""

_REJECTION_STATUS = {Provider.MAILGUN: 406, Provider.POSTMARK: 403}
"""The status each provider takes as "rejected, do not retry"; the others get a 200."""


def body_limit(message_limit: int) -> int:
    """The largest body accepted for a message limit: twice the message (a form's encoding,
    base64 or percent-escapes, grows it) and a megabyte for the other fields. A message over the
    channel's own limit is still refused by intake, with ``552 5.3.4``."""
    return 2 * message_limit + _ENCODING_ROOM


class HttpIntake:
    """One inbound URL: a provider's format and secret, in front of one inbox.

    ``secret``: Mailgun's webhook signing key, or the shared secret of the others.
    ``recipient``: the channel's forwarding address to receive for, whatever the provider says
    (None: the address the provider reports). ``max_bytes``: the largest body
    (default :func:`body_limit` of the inbox's message limit). ``tokens``: where Mailgun's
    one-time tokens (and SNS message ids) are remembered (default: in this process, see
    :class:`TokenLedger`). ``sns_fetch``: how SNS certificates are fetched and subscriptions
    confirmed (provider ``ses``; HTTPS on an SNS host only). Safe to share between threads.
    """

    def __init__(
        self,
        inbox: InboxService,
        *,
        provider: Provider,
        secret: str,
        recipient: str | None = None,
        max_bytes: int | None = None,
        max_age: timedelta = DEFAULT_MAX_AGE,
        tokens: TokenLedger | None = None,
        sns_fetch: SnsFetch = fetch_sns_url,
    ) -> None:
        if not secret:
            raise ValueError("an inbound URL needs a secret")
        self.inbox, self.provider, self.recipient = inbox, Provider(provider), recipient
        self.max_bytes = max_bytes or body_limit(inbox.config.intake.max_message_size)
        self.max_age = max_age
        self.tokens: TokenLedger = tokens if tokens is not None else RecentTokens(max_age)
        self.sns = SnsCertificates(sns_fetch)
        self._secret = secret

    def check_declared(self, method: str, headers: Headers) -> HttpAnswer | None:
        """The answer the method and headers alone decide, before any of the body is read
        (None: read the body, at most :attr:`max_bytes` of it)."""
        if method.upper() != "POST":
            return error_answer(
                405, "method_not_allowed", "Only POST is accepted.", [("allow", "POST")]
            )
        length = header(headers, "content-length")
        if length is None:
            return error_answer(411, "length_required", "A Content-Length is required.")
        if not (length.strip().isascii() and length.strip().isdigit()):
            return error_answer(400, "bad_content_length", "The Content-Length is not a number.")
        if int(length) > self.max_bytes:
            return self.too_large()
        media_type, _ = content_type(header(headers, "content-type"))
        if media_type not in ACCEPTED_TYPES[self.provider]:
            expected = ", ".join(sorted(ACCEPTED_TYPES[self.provider]))
            return error_answer(
                415, "unsupported_media_type", f"{self.provider.value} posts {expected}."
            )
        return None

    def too_large(self) -> HttpAnswer:
        """The 413 of a body over :attr:`max_bytes`, declared so or found so while reading."""
        return error_answer(413, "too_large", f"The body is larger than {self.max_bytes:,} bytes.")

    def handle(self, request: HttpRequest) -> HttpAnswer:
        """The answer to one POST. Blocking (storage, DNS): an async host runs it in a worker
        thread. Never raises: a port that fails is a 503."""
        answer = self.check_declared(request.method, request.headers)
        if answer is None and len(request.body) > self.max_bytes:
            answer = self.too_large()
        if answer is not None:
            return self._logged(request, answer)
        now = self.inbox.clock.now()
        check = ProviderCheck(
            secret=self._secret, now=now, max_age=self.max_age, tokens=self.tokens, sns=self.sns
        )
        try:
            posted = read_post(self.provider, request, check)
        except FormError as error:
            return self._logged(request, error_answer(400, "malformed", str(error)))
        except Exception:  # an SNS certificate or confirmation that could not be fetched
            log.exception("checking a %s POST failed", self.provider.value)
            return self._logged(
                request, _try_later("check_failed", "Could not check the POST now.")
            )
        if isinstance(posted, Refusal):
            return self._logged(request, _refusal_answer(posted))
        if isinstance(posted, Acknowledged):
            body = {"acknowledged": posted.code, "message": posted.message}
            return self._logged(request, json_answer(200, body))
        answer = self._deliver(posted)
        if posted.token is not None and answer.status != 503:
            self.tokens.remember(posted.token, now)
        return self._logged(request, answer)

    def _deliver(self, posted: Posted) -> HttpAnswer:
        rcpt_to = (self.recipient,) if self.recipient else posted.rcpt_to
        envelope = Envelope(
            received_at=self.inbox.clock.now(), mail_from=posted.mail_from, rcpt_to=rcpt_to
        )
        # A provider that retries for hours (all but SNS's minute) can be asked to retry when a
        # DNS failure could change the verdict, as an SMTP client can; SNS's mail is kept for a
        # recheck instead (quarantined, ``*.temperror``), or it would be lost.
        live = self.provider is not Provider.SES
        try:
            delivery = self.inbox.receive(posted.raw, envelope, live_smtp=live)
        except Exception:  # a broken port: nothing is committed, the provider retries
            log.exception("delivery to %s failed", ",".join(rcpt_to))
            return _try_later("internal_error", "The inbox could not take the message now.")
        return self._verdict_answer(delivery)

    def _verdict_answer(self, delivery: Delivery) -> HttpAnswer:
        body = {
            "verdict": delivery.disposition.value,
            "reasons": list(delivery.reason_codes),
            "smtp": str(delivery.smtp),
            "raw_id": delivery.raw_id,
        }
        if delivery.disposition is Disposition.DEFERRED or delivery.smtp.is_temporary_failure:
            return json_answer(503, body, [("retry-after", str(RETRY_AFTER_SECONDS))])
        if delivery.disposition is Disposition.REJECTED:
            return json_answer(_REJECTION_STATUS.get(self.provider, 200), body)
        return json_answer(200, body)

    def _logged(self, request: HttpRequest, answer: HttpAnswer) -> HttpAnswer:
        data = answer.json()
        outcome = ""
        if isinstance(data, dict):
            outcome = str(data.get("verdict") or data.get("error") or "")
        # The path without its last segment and query, either of which may hold the secret.
        log.info(
            "http %s %s %s %d bytes -> %d %s",
            self.provider.value,
            request.method,
            request.path.partition("?")[0].rpartition("/")[0] or "/",
            len(request.body),
            answer.status,
            outcome,
        )
        return answer


def _refusal_answer(refusal: Refusal) -> HttpAnswer:
    challenge = [("www-authenticate", refusal.challenge)] if refusal.challenge else []
    return error_answer(refusal.status, refusal.code, refusal.message, challenge)


def _try_later(code: str, message: str) -> HttpAnswer:
    return error_answer(503, code, message, [("retry-after", str(RETRY_AFTER_SECONDS))])
