"""Framework integrations, each behind an extra of its own (``inboxcore[django]``, ...)."""
