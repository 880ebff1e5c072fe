"""Subjects as threading reads them: reply and forward prefixes, in the languages mail clients
write them, list tags, and the key two subjects are compared by.

Used by :mod:`inboxcore.policies.threads` (the subject fallback, "is this a reply?") and by
outbound mail (one ``Re:``); :mod:`inboxcore.policies.threads` re-exports the public names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["is_reply_subject", "strip_subject_prefixes", "subject_key"]

_REPLY_WORDS = (
    "re",  # Latin, English and most clients
    "aw",  # German: Antwort
    "antw",  # Dutch: Antwoord
    "sv",  # Swedish, Danish, Norwegian: Svar
    "vs",  # Finnish: Vastaus (Danish/Norwegian forward too)
    "res",  # Portuguese: Resposta
    "odp",  # Polish: Odpowiedź
    "ynt",  # Turkish: Yanıt
    "r",  # Italian Outlook
    "rif",  # Italian: Riferimento
    "réf",  # French: Référence
    "ref",
    "atb",  # Latvian: Atbilde
    "odg",  # Slovenian: Odgovor
    "vá",  # Icelandic
    "απ",  # Greek
    "σχετ",  # Greek
    "回复",  # Chinese (simplified)
    "回覆",  # Chinese (traditional)
    "答复",  # Chinese
)
_FORWARD_WORDS = (
    "fwd",
    "fw",
    "wg",  # German: Weitergeleitet
    "tr",  # French: Transféré
    "rv",  # Spanish: Reenviado
    "enc",  # Portuguese: Encaminhado
    "doorst",  # Dutch: Doorgestuurd
    "i",  # Italian Outlook: Inoltrato
    "pd",  # Polish: Przekazane dalej
    "ilt",  # Turkish: İlet
    "vl",  # Finnish: Välitetty
    "fs",  # Icelandic
    "προθ",  # Greek
    "转发",  # Chinese (simplified)
    "轉寄",  # Chinese (traditional)
)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_COUNTER = r"(?:\s*(?:\[\d{1,4}\]|\(\d{1,4}\)|\^\d{1,4}|\d{1,4}))?"
_REPLY_PREFIX = re.compile(
    rf"^\s*(?:{_alternation(_REPLY_WORDS)}){_COUNTER}\s*[:：]\s*", re.IGNORECASE
)
_FORWARD_PREFIX = re.compile(
    rf"^\s*(?:{_alternation(_FORWARD_WORDS)}){_COUNTER}\s*[:：]\s*", re.IGNORECASE
)
_LIST_TAG = re.compile(r"^\s*\[[^\[\]]{1,80}\]\s*")
_FWD_SUFFIX = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)


def _strip(subject: str) -> tuple[str, bool]:
    """The subject without prefixes, and whether a reply prefix was among them."""
    text = " ".join(subject.split())
    replied = False
    for _ in range(100):  # bounded: every round removes at least one character
        before = text
        match = _REPLY_PREFIX.match(text)
        if match:
            replied = True
            text = text[match.end() :]
        for pattern in (_FORWARD_PREFIX, _LIST_TAG, _FWD_SUFFIX):
            text = pattern.sub("", text, count=1)
        if text == before:
            break
    return text.strip(), replied


def strip_subject_prefixes(subject: str) -> str:
    """The subject without reply/forward prefixes ("Re:", "AW:", "RE[2]:", "Re^3:", "Fwd:",
    "SV:", "VS:", "Antw:", "TR:", "RV:", ...), mailing-list tags ("[list] ") and a trailing
    "(fwd)", removed case-insensitively and repeatedly; white space collapsed."""
    return _strip(subject)[0]


def subject_key(subject: str) -> str:
    """The form in which subjects are compared: prefixes stripped, case folded."""
    return strip_subject_prefixes(subject).casefold()


def is_reply_subject(subject: str) -> bool:
    """Whether the subject carries a reply prefix ("Re:", "AW:", ...), not only forwards/tags."""
    return _strip(subject)[1]
