"""Django management commands of inboxcore (``manage.py inboxcore_*``)."""

__all__: list[str] = []
