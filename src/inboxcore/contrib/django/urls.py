"""The app's URLs: ``path("inbox/", include("inboxcore.contrib.django.urls"))`` in the site's
``urls.py`` puts the inbound view at ``inbox/inbound/<provider>/`` (and
``inbox/inbound/<provider>/<secret>`` for a secret in the path, as SendGrid's Inbound Parse URL
carries it)."""

from __future__ import annotations

from django.urls import path

from inboxcore.contrib.django.views import inbound_mail

__all__ = ["app_name", "urlpatterns"]

app_name = "inboxcore"

urlpatterns = [
    path("inbound/<str:provider>/", inbound_mail, name="inbound"),
    path("inbound/<str:provider>/<str:secret>", inbound_mail, name="inbound-secret"),
]
