"""Layer 5, the pure policies beside :mod:`inboxcore.channels`, :mod:`inboxcore.routing` and
:mod:`inboxcore.tickets`: threading, the team signature, composing outbound mail, and who
receives a message.

Values in, values out; the one exception is :mod:`inboxcore.policies.recipients`, which reads
the channel of an address through the :class:`~inboxcore.ports.Storage` it is given.
"""

__all__: list[str] = []
