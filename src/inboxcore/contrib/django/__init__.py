"""inboxcore as a Django app: ``INSTALLED_APPS += ["inboxcore.contrib.django"]`` (label
``inboxcore``), its models and migrations, :class:`~inboxcore.contrib.django.storage.DjangoStorage`
and :class:`~inboxcore.contrib.django.rawstore.DjangoRawStore` (extra ``django``).

The classes live in their modules, imported once Django is set up: a models module cannot be
imported before ``django.setup()``.
"""

__all__: list[str] = []
