"""Framework integrations, each behind its extra."""

__all__: list[str] = []
