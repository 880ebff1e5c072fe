"""One Public Suffix List for the library, and the registrable part of a domain."""

from __future__ import annotations

from inboxcore.auth import dmarc
from inboxcore.mail import suffixes
from inboxcore.mail.suffixes import BUNDLED_PSL, registrable_domain


def test_registrable_domain() -> None:
    """Suffix-aware, IDNA-normalised; None for suffixes, literals and garbage."""
    assert registrable_domain("mail.acme.co.uk") == "acme.co.uk"
    assert registrable_domain("Mail.ACME.example.") == "acme.example"
    assert registrable_domain("bücher.example") == "xn--bcher-kva.example"
    assert registrable_domain("alice.github.io") == "alice.github.io"
    assert registrable_domain("co.uk") is None
    assert registrable_domain("[192.0.2.1]") is None
    assert registrable_domain("not a domain") is None


def test_the_list_is_loaded_once_for_everyone() -> None:
    """DMARC and the rest share the one bundled list (loading it costs a tenth of a second)."""
    assert dmarc.BUNDLED_PSL is suffixes.BUNDLED_PSL is BUNDLED_PSL


def test_registrable_domain_uses_idna_2008() -> None:
    """``mail.straße.de`` belongs to ``xn--strae-oqa.de``, not to ``strasse.de``; an invalid
    IDN or a megabyte name is None, not an exception."""
    assert registrable_domain("mail.Straße.de") == "xn--strae-oqa.de"
    assert registrable_domain("mail.strasse.de") == "strasse.de"
    assert registrable_domain("xn--zz.de") is None
    assert registrable_domain("ü" * 1_000_000 + ".de") is None
