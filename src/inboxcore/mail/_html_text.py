"""A readable plain-text rendering of HTML mail, in linear time on whatever HTML arrives.

:func:`html_to_text` stands in for a text part when a message has none (parsing) and reads HTML
bounce notices (:mod:`inboxcore.mail.bounces`). Pure: no I/O.
"""

from __future__ import annotations

import html as html_module
import re

__all__ = ["html_to_text"]

# The openers of tags whose attributes run to the next ">": matched with _through (linear),
# never with "[^>]*>" in a pattern (quadratic when many openers precede one ">" or none).
_BLOCK_CLOSE = re.compile(
    r"</(?:p|div|tr|h[1-6]|blockquote|table|ul|ol|pre|address|section|article)\s*+>|<br\s*+/?>",
    re.I,
)
_BLOCK_OPEN = re.compile(r"<(?:p|div|tr|li|h[1-6]|table)\b", re.I)
_LIST_ITEM = re.compile(r"<li\b", re.I)
_TAG_OPEN = re.compile(r"<")
_COMMENT_OPEN = re.compile(r"<!--")
_DROPPED_OPEN = re.compile(r"<(script|style|head|title)\b", re.I)
# Each matches only what it changes: re.sub holds a piece per match, and a text of 10**5 line
# breaks replaced by themselves would cost sixteen times its size.
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_INLINE_BLANKS = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_EDGE_BLANKS = re.compile(r" \n ?|\n ")
_BLANK_LINES = re.compile(r"\n{3,}")


def _through(markup: str, opener: re.Pattern[str], closer: str, replacement: str) -> str:
    """Each ``opener`` and what follows it up to the next ``closer`` replaced: what ``re.sub``
    of ``opener + ".*?" + closer`` (DOTALL) does, in linear time."""
    out: list[str] = []
    pos = 0
    for found in opener.finditer(markup):
        if found.start() < pos:
            continue  # inside a span already replaced
        end = markup.find(closer, found.end())
        if end < 0:
            break  # no closer after this opener, so none after any later one either
        out += (markup[pos : found.start()], replacement)
        pos = end + len(closer)
    out.append(markup[pos:])
    return "".join(out)


def _drop_elements(markup: str) -> str:
    """Remove script, style, head and title elements with their content, in linear time."""
    out: list[str] = []
    pos = 0
    lower: str | None = None
    closes: dict[str, int] = {}  # the last closing tag found per element; -1 for none left
    while True:
        found = _DROPPED_OPEN.search(markup, pos)
        if found is None:
            out.append(markup[pos:])
            break
        out.append(markup[pos : found.start()])
        if lower is None:
            lower = markup.lower()
        name = found.group(1).lower()
        close = closes.get(name, 0)
        if 0 <= close < found.end():
            close = closes[name] = lower.find("</" + name, found.end())
        if close < 0:
            # An unclosed <head> in sloppy mail usually runs into the body: drop only the tag.
            gt = markup.find(">", found.end())
            pos = len(markup) if gt < 0 else gt + 1
            continue
        gt = markup.find(">", close)
        pos = len(markup) if gt < 0 else gt + 1
    return "".join(out)


def html_to_text(markup: str) -> str:
    """A readable plain-text rendering of HTML (for messages without a text part).

    Block elements and ``<br>`` become line breaks, list items get a ``- `` marker, scripts,
    styles and comments vanish, entities are decoded and runs of blank lines collapse to one.
    Linear in the input: it runs on whatever HTML the outside world sends.
    """
    text = _through(markup, _COMMENT_OPEN, "-->", "")
    text = _drop_elements(text)
    text = _through(text, _LIST_ITEM, ">", "\n- ")
    text = _BLOCK_CLOSE.sub("\n", text)
    text = _through(text, _BLOCK_OPEN, ">", "\n")
    text = _through(text, _TAG_OPEN, ">", "")
    text = html_module.unescape(text)
    # Substitutions over the whole text, not a list of its lines: a line costs a list slot and a
    # string object, fifty times the size of a text of empty lines.
    text = _LINE_BREAKS.sub("\n", text)  # every break str.splitlines() knows
    text = _INLINE_BLANKS.sub(" ", text)
    text = _EDGE_BLANKS.sub("\n", text)  # each line stripped
    return _BLANK_LINES.sub("\n\n", text).strip()  # a run of blank lines kept as one
