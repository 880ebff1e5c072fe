"""Layer 4, authentication: SPF, DKIM (verify and sign), ARC, DMARC and the verdict.

Each check talks to DNS through the :class:`~inboxcore.ports.DnsResolver` port only;
:mod:`~inboxcore.auth.authentication` combines them into the forwarded-mail disposition.
"""

__all__: list[str] = []
