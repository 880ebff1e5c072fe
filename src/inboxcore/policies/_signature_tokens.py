"""The tokens of signature templates, and the lines a missing value leaves behind.

Shared by both sides of :mod:`inboxcore.policies.signature`: finding tokens and substituting
their values (:func:`template_pieces`, :func:`substitute`), tidying a line a token left empty
(:func:`tidy_mask`), and rendering a plain-text template line by line
(:func:`render_text_template`). The syntax and the tidying rules are described there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import attrs

__all__ = [
    "TemplatePiece",
    "render_text_template",
    "substitute",
    "template_pieces",
    "template_tokens",
    "tidy_mask",
    "trim_blank_lines",
]

_TOKEN = re.compile(r"\{\{|\}\}|\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}")
_SEPARATOR_CHARS: Final = frozenset(",;|/·•-–—")
_TRAILING_ATTACHED: Final = ",;"


# --- template tokens ---------------------------------------------------------------------------


@attrs.frozen
class TemplatePiece:
    """A piece of template text: literal (``token`` None) or a token's rendered value."""

    text: str
    token: str | None = None


def template_pieces(template: str, values: Mapping[str, str] | None) -> list[TemplatePiece]:
    """``template`` cut into literal text and tokens, each token with its value from ``values``
    (missing: empty); ``{{`` and ``}}`` are literal braces."""
    out: list[TemplatePiece] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            out.append(TemplatePiece(template[pos : m.start()]))
        pos = m.end()
        whole = m.group(0)
        if whole in ("{{", "}}"):
            out.append(TemplatePiece(whole[0]))
            continue
        name = m.group(1).lower()
        value = (values or {}).get(name, "")
        out.append(TemplatePiece(value, name))
    if pos < len(template):
        out.append(TemplatePiece(template[pos:]))
    return out


def template_tokens(template: str) -> tuple[str, ...]:
    """Every token name used in ``template``, lowercased, in order of first use."""
    seen: dict[str, None] = {}
    for piece in template_pieces(template, None):
        if piece.token is not None:
            seen.setdefault(piece.token, None)
    return tuple(seen)


def substitute(template: str, values: Mapping[str, str]) -> tuple[str, bool]:
    """The template with values in, and whether some token rendered empty."""
    pieces = template_pieces(template, values)
    return "".join(p.text for p in pieces), any(p.token is not None and not p.text for p in pieces)


# --- tidying lines left with empty tokens -------------------------------------------------------


def _is_separator_run(run: str) -> bool:
    return all(c in _SEPARATOR_CHARS for c in run)


def tidy_mask(line: str) -> list[bool]:
    """Which characters of ``line`` to keep once doubled spaces and dangling separators go."""
    keep = [False] * len(line)
    runs = [(m.start(), m.end()) for m in re.finditer(r"\S+", line)]
    kept: list[tuple[int, int]] = []
    after_separator = True  # the start of a line counts as a separator
    for start, end in runs:
        run = line[start:end]
        if _is_separator_run(run):
            if after_separator:
                continue
            after_separator = True
        else:
            after_separator = run[-1] in _TRAILING_ATTACHED
        kept.append((start, end))
    while kept and _is_separator_run(line[kept[-1][0] : kept[-1][1]]):
        kept.pop()
    if kept:
        start, end = kept[-1]
        while end > start and line[end - 1] in _TRAILING_ATTACHED:
            end -= 1
        kept[-1] = (start, end)
    previous_end: int | None = None
    for start, end in kept:
        if previous_end is not None:
            gap = next((i for i in range(previous_end, start) if line[i].isspace()), None)
            if gap is not None:
                keep[gap] = True
        for i in range(start, end):
            keep[i] = True
        previous_end = end
    return keep


def _tidy(line: str) -> str:
    return "".join(c for c, k in zip(line, tidy_mask(line), strict=True) if k)


# --- plain-text templates ----------------------------------------------------------------------


def render_text_template(template: str, values: Mapping[str, str]) -> str:
    """A plain-text template with values in; lines a missing value emptied are tidied or go."""
    lines: list[str] = []
    for raw in template.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line, had_empty = substitute(raw, values)
        if had_empty:
            line = _tidy(line)
            if not line:
                continue
        lines.append(line)
    return trim_blank_lines("\n".join(lines))


def trim_blank_lines(text: str) -> str:
    """``text`` with runs of blank lines cut to one, and none at either end."""
    text = re.sub(r"\n[ \t]*(?:\n[ \t]*){2,}", "\n\n", text)
    return text.strip("\n")
