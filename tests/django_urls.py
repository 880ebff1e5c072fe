"""The URLs of the Django test settings (:mod:`tests.django_support`): the admin and the app's."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("inbox/", include("inboxcore.contrib.django.urls")),
]
