"""The Public Suffix List: where a domain's registrable part ("organizational domain") begins.

One list for the whole library, loaded on first use (about a tenth of a second) from the
``publicsuffixlist`` package, which ships it offline. DMARC discovery, DMARC alignment of what a
trusted forwarder reports, and threading's "same organization" rule all read it from here.
"""

from __future__ import annotations

import functools
from typing import Final, Protocol

from inboxcore.domain.addresses import normalize_domain
from inboxcore.domain.errors import InvalidEmailAddress

__all__ = ["BUNDLED_PSL", "SuffixList", "registrable_domain"]


class SuffixList(Protocol):
    """What the library needs of a suffix list (``publicsuffixlist.PublicSuffixList`` fits)."""

    def privatesuffix(self, domain: str) -> str | None:
        """The registrable domain of ``domain`` (``example.co.uk``), None if it is a suffix."""
        ...


class _BundledPsl:
    """The list shipped in the ``publicsuffixlist`` package, loaded once, on first use."""

    @functools.cached_property
    def _list(self) -> SuffixList:
        from publicsuffixlist import PublicSuffixList

        return PublicSuffixList()

    def privatesuffix(self, domain: str) -> str | None:
        return self._list.privatesuffix(domain)


BUNDLED_PSL: Final[SuffixList] = _BundledPsl()
"""The default suffix list: ICANN and private sections, as the package ships them."""


def registrable_domain(domain: str, psl: SuffixList = BUNDLED_PSL) -> str | None:
    """The registrable domain of ``domain`` in lowercase A-labels (``mail.acme.co.uk`` gives
    ``acme.co.uk``), or None for a public suffix itself, a domain literal or anything
    unparseable. Never raises."""
    try:
        name = normalize_domain(domain)
    except InvalidEmailAddress:
        return None
    if name.startswith("["):
        return None
    return psl.privatesuffix(name)
