"""Framework integrations, each behind an extra of its own (``inboxcore[django]``, ...)."""

__all__: list[str] = []
