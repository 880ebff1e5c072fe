"""The admin, the inbound view, and (the demo only) a one-click login for the screenshots."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from helpdesk.views import demo_login

urlpatterns = [
    path("admin/", admin.site.urls),
    path("inbox/", include("inboxcore.contrib.django.urls")),
]
if settings.HELPDESK_DEMO:
    urlpatterns.append(path("demo-login/", demo_login))
