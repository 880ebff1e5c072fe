"""Layer 7, the use cases: the inbox service, channel setup and the outbox.

The only layer that calls storage and transport, each use case in one unit of work.
"""

__all__: list[str] = []
