"""The inbound HTTP view: mail providers POST received messages to the site.

A thin Django face on :class:`~inboxcore.entrypoints.http_intake.HttpIntake` (the same intake,
authentication, limits and status codes as the ASGI app; see the HTTP intake page): one URL per
provider, ``<prefix>/inbound/<provider>/`` (and ``.../<secret>`` for providers whose secret rides in
the path), each configured in ``settings.INBOXCORE["INBOUND"]``.

The method and the declared ``Content-Length`` are answered before any of the body is read
(405, 411, 413, 415); the body is then read from the request stream, at most the intake's limit,
so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (meant for forms) does not apply. The view is exempt
from CSRF (a provider has no session; its POST proves itself by signature or secret) and runs
outside any transaction: the service commits its own units of work before it answers 200.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from inboxcore.contrib.django.conf import get_intake
from inboxcore.entrypoints.http_intake import HttpAnswer, HttpIntake
from inboxcore.entrypoints.http_intake import HttpRequest as IntakeRequest

__all__ = ["inbound_mail"]


def inbound_mail(request: HttpRequest, provider: str, secret: str = "") -> HttpResponse:
    """One provider's POST, answered as :class:`HttpIntake` decides; 404 for a provider that has
    no door in ``INBOXCORE["INBOUND"]``."""
    intake = get_intake(provider)
    if intake is None:
        raise Http404(f"no inbound door for {provider!r}")
    headers = [(name.lower(), value) for name, value in request.headers.items()]
    answer = intake.check_declared(request.method or "GET", headers)
    if answer is None:
        answer = _read_and_handle(intake, request, headers)
    return _response(answer)


# What django.views.decorators.csrf.csrf_exempt sets (the decorator is untyped, and mypy --strict
# would lose this function's signature through it): CsrfViewMiddleware reads the attribute.
inbound_mail.csrf_exempt = True  # type: ignore[attr-defined]


def _read_and_handle(
    intake: HttpIntake, request: HttpRequest, headers: list[tuple[str, str]]
) -> HttpAnswer:
    """Read at most the limit plus one byte (a body longer than it declared is still refused)."""
    body = request.read(intake.max_bytes + 1)
    if len(body) > intake.max_bytes:
        return intake.too_large()
    return intake.handle(
        IntakeRequest(
            method=request.method or "POST",
            path=request.get_full_path(),
            headers=tuple(headers),
            body=body,
        )
    )


def _response(answer: HttpAnswer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response
