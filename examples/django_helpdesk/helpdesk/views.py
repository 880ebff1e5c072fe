"""The demo only (``HELPDESK_DEMO``): log the demo administrator in and go on (headless
screenshots have no login form to fill)."""

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def demo_login(request: HttpRequest) -> HttpResponse:
    if not settings.HELPDESK_DEMO:
        raise Http404
    user = get_user_model().objects.get(username="admin")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    target = request.GET.get("next", "/admin/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/admin/"
    return redirect(target)
