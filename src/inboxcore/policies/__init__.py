"""Layer 5, the pure policies beside :mod:`inboxcore.channels`, :mod:`inboxcore.routing` and
:mod:`inboxcore.tickets`: threading, the team signature and composing outbound mail.

Values in, values out: no port is called here.
"""

__all__: list[str] = []
