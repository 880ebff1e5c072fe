"""Layer 1, the values: addresses, ids, records, events, outcomes, errors, tokens.

Frozen attrs classes and the exception tree that every other layer is made of. Nothing here does
I/O or knows a port; the root package ``inboxcore`` re-exports the names a host meets first.
"""

__all__: list[str] = []
