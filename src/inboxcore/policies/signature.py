"""Team signatures: templates with agent tokens, rendered to safe HTML and to plain text.

**Template syntax.** A token is a name in braces: ``{agent.full_name}``, ``{agent.first_name}``,
``{agent.last_name}``, ``{agent.email}`` and ``{company}`` (see :data:`TOKENS`; names are not case
sensitive and may have spaces inside the braces). ``{{`` and ``}}`` write a literal brace; any other
brace is literal text. A well-formed token with an unknown name (``{agent.phone}``) is a problem
reported by :func:`check_signature`, and renders as nothing.

**HTML.** The HTML template is sanitized by nh3 (html5ever's parser, ammonia's cleaner) to a
small allow-list, because it ends up in every reply
the team sends and in the helpdesk's own pages: ``p``, ``br``, ``b``, ``strong``, ``i``, ``em``,
``a`` (``href`` with ``http``, ``https`` or ``mailto`` only, and ``title``) and ``img`` (``src``
with ``https`` only, ``alt``, ``title``, numeric ``width`` and ``height``). Every other attribute is
dropped. Other tags are dropped but keep their text; block tags an editor produces (``div``,
``li``, headings, table rows) become line breaks, so a pasted Gmail or Outlook signature keeps its
lines. The content of ``script``, ``style``, ``iframe`` and the like is dropped altogether. Token
values are HTML-escaped, and percent-encoded inside ``href`` and ``src``.

**Missing values.** A token whose value is missing renders as nothing, and the line it stood on is
tidied: doubled spaces and dangling separators (``,`` ``;`` ``|`` ``/`` ``·`` ``•`` ``-`` ``–``
``—``) go, and a line left empty goes entirely, with its line break. Lines without an empty token
are left exactly as written (so the ``-- `` signature delimiter survives).

**Text.** The plain-text signature comes from
:attr:`~inboxcore.domain.model.SignatureSettings.text` when
the team wrote one, and is otherwise derived from the HTML (paragraphs become blank lines, links
show their target in angle brackets, images their ``alt`` text).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from html.parser import HTMLParser
from typing import Final
from urllib.parse import quote, urlsplit

import attrs
import nh3

from inboxcore.domain.errors import Problem
from inboxcore.domain.model import SignatureSettings, User
from inboxcore.policies._signature_tokens import (
    render_text_template,
    substitute,
    template_pieces,
    template_tokens,
    tidy_mask,
    trim_blank_lines,
)

__all__ = [
    "MAX_TEMPLATE_LENGTH",
    "RenderedSignature",
    "SignatureValues",
    "TOKENS",
    "check_signature",
    "render_signature",
    "sanitize_html",
    "template_tokens",
]

TOKENS: Final = frozenset(
    {"agent.full_name", "agent.first_name", "agent.last_name", "agent.email", "company"}
)
"""The token names a signature template may use."""

MAX_TEMPLATE_LENGTH: Final = 20_000
"""The longest signature template accepted, in characters (HTML or text)."""


_ALLOWED_INLINE: Final = frozenset({"b", "strong", "i", "em", "a"})
_DROP_CONTENT: Final = frozenset(
    {
        "script",
        "style",
        "iframe",
        "object",
        "template",
        "noscript",
        "textarea",
        "select",
        "title",
        "head",
        "svg",
        "math",
        "applet",
        "frameset",
        "noembed",
        "noframes",
        "audio",
        "video",
        "canvas",
        "button",
    }
)
_DANGEROUS: Final = _DROP_CONTENT - {"style", "title", "head", "noscript", "template"} | {
    "embed",
    "form",
    "input",
    "base",
    "meta",
    "link",
    "frame",
}
_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track"}
)
_BLOCK: Final = frozenset(
    {
        "div",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "tr",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "pre",
        "hr",
        "center",
        "figure",
        "figcaption",
    }
)
_LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
_IMAGE_SCHEMES: Final = frozenset({"https"})
_DIMENSION = re.compile(r"[0-9]{1,4}")
_NH3_TAGS: Final = {"p", "br", "img", *_ALLOWED_INLINE, *_BLOCK}
_NH3_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
}


# --- values ------------------------------------------------------------------------------------


def _clean_value(value: str) -> str:
    """A token value as one line: control and format characters gone, white space collapsed."""
    kept = "".join(" " if unicodedata.category(c).startswith("C") else c for c in value)
    return " ".join(kept.split())


@attrs.frozen(kw_only=True)
class SignatureValues:
    """What the tokens stand for when one agent sends."""

    agent_full_name: str = attrs.field(default="", converter=_clean_value)
    agent_first_name: str = attrs.field(default="", converter=_clean_value)
    agent_last_name: str = attrs.field(default="", converter=_clean_value)
    agent_email: str = attrs.field(default="", converter=_clean_value)
    company: str = attrs.field(default="", converter=_clean_value)

    @classmethod
    def for_agent(cls, agent: User | None, company: str) -> SignatureValues:
        """The values for ``agent`` (None: nobody, e.g. an automatic reply) of ``company``."""
        if agent is None:
            return cls(company=company)
        return cls(
            agent_full_name=agent.full_name,
            agent_first_name=agent.first_name,
            agent_last_name=agent.last_name,
            agent_email=agent.email.address,
            company=company,
        )

    def as_mapping(self) -> Mapping[str, str]:
        return {
            "agent.full_name": self.agent_full_name,
            "agent.first_name": self.agent_first_name,
            "agent.last_name": self.agent_last_name,
            "agent.email": self.agent_email,
            "company": self.company,
        }


@attrs.frozen(kw_only=True)
class RenderedSignature:
    """A signature as the contact sees it."""

    text: str
    html: str


# --- HTML: parsing into a flat item list ---------------------------------------------------------


@attrs.frozen
class _Text:
    text: str
    had_empty_token: bool = False


@attrs.frozen
class _Open:
    tag: str
    attrs: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class _Close:
    tag: str


@attrs.frozen
class _Img:
    attrs: tuple[tuple[str, str], ...]


@attrs.frozen
class _Br:
    soft: bool = False
    """From a block tag: a line break only where there is a line to break."""


@attrs.frozen
class _POpen:
    pass


@attrs.frozen
class _PClose:
    pass


_Item = _Text | _Open | _Close | _Img | _Br | _POpen | _PClose


def _pick(values: Mapping[str, str], names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, values[name]) for name in names if name in values)


class _Collector(HTMLParser):
    """Turns template HTML into allowed items, noting what it removed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[_Item] = []
        self.removed: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        """(tag, attribute, raw value) of every href and src, for checks."""
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if any(name.startswith("on") for name, _ in attrs):
            self.removed.add("event handler attributes")
        if self._skip:
            if tag in _DROP_CONTENT:
                self._skip.append(tag)
            return
        if tag in _DANGEROUS:
            self.removed.add(f"<{tag}>")
        if tag in _DROP_CONTENT:
            self._skip.append(tag)
            return
        values = {name: value or "" for name, value in attrs}
        if tag == "p":
            self.items.append(_POpen())
        elif tag == "br":
            self.items.append(_Br())
        elif tag in ("b", "strong", "i", "em"):
            self.items.append(_Open(tag))
        elif tag == "a":
            if "href" in values:
                self.attributes.append(("a", "href", values["href"]))
            self.items.append(_Open("a", _pick(values, ("href", "title"))))
        elif tag == "img":
            if "src" in values:
                self.attributes.append(("img", "src", values["src"]))
            self.items.append(_Img(_pick(values, ("src", "alt", "title", "width", "height"))))
        elif tag in _BLOCK:
            self.items.append(_Br(soft=True))

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in _DROP_CONTENT and tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag == "p":
            self.items.append(_PClose())
        elif tag in _ALLOWED_INLINE:
            self.items.append(_Close(tag))
        elif tag in _BLOCK:
            self.items.append(_Br(soft=True))

    def handle_data(self, data: str) -> None:
        if not self._skip and data:
            self.items.append(_Text(data))


def _without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (``"\\ud800"``, which JSON and Python strings allow)
    replaced by U+FFFD: nh3 hands the string to Rust as UTF-8, which has no surrogates, and
    would raise. Well-formed pairs are joined into their character on the way."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _sanitize(template: str) -> str:
    """The template through nh3 (a maintained sanitizer: html5ever's spec-conforming parser and
    ammonia's cleaner) with our allow-list: what a browser would parse, and nothing active.

    nh3 is the security boundary; the collector below only shapes what survives (tokens, line
    tidying, plain text) and checks the per-tag URL schemes nh3 cannot tell apart."""
    return nh3.clean(
        _without_lone_surrogates(template),
        tags=_NH3_TAGS,
        attributes=_NH3_ATTRIBUTES,
        url_schemes=set(_LINK_SCHEMES),
        clean_content_tags=set(_DROP_CONTENT),
        strip_comments=True,
        link_rel=None,
    )


def _collect(template: str, *, sanitized: bool = True) -> _Collector:
    """The template's items; ``sanitized=False`` reads the template as written, only to report
    what sanitizing would remove."""
    collector = _Collector()
    collector.feed(_sanitize(template) if sanitized else template)
    collector.close()
    return collector


# --- HTML: substitution, structure, tidying ----------------------------------------------------


def _safe_url(value: str, schemes: frozenset[str]) -> str | None:
    """``value`` if it is an absolute URL of an allowed scheme, else None.

    Browsers ignore tabs, line breaks and control characters inside URLs (``java\\tscript:``), so
    they are removed before the scheme is read; a URL with spaces inside is refused.
    """
    cleaned = "".join(c for c in value if ord(c) > 0x20 or c == " ").strip()
    if not cleaned or " " in cleaned or "\\" in cleaned:
        return None
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return None
    if scheme in ("http", "https") and not parts.hostname:
        return None
    if scheme == "mailto" and (not parts.path or "@" not in parts.path):
        return None
    return cleaned


def _substitute_url(template: str, values: Mapping[str, str]) -> str:
    return "".join(
        quote(p.text, safe="@") if p.token is not None else p.text
        for p in template_pieces(template, values)
    )


_PLACEHOLDERS: Final = dict.fromkeys(TOKENS, "x") | {"agent.email": "agent@example.com"}
"""Token values that make a URL template checkable before anyone sends."""


def _url(template: str, values: Mapping[str, str] | None, schemes: frozenset[str]) -> str | None:
    """The URL for ``values`` if safe; with ``values`` None, the template itself if it is safe
    for every value (token values are percent-encoded, so they cannot change the scheme)."""
    if values is None:
        if _safe_url(_substitute_url(template, _PLACEHOLDERS), schemes) is None:
            return None
        return "".join(c for c in template if ord(c) > 0x20 or c == " ").strip()
    return _safe_url(_substitute_url(template, values), schemes)


def _text(template: str, values: Mapping[str, str] | None) -> tuple[str, bool]:
    return (template, False) if values is None else substitute(template, values)


def _render_items(collector: _Collector, values: Mapping[str, str] | None) -> list[_Item]:
    """Substitute values (None: keep the tokens), drop unsafe attributes, balance the tags."""
    out: list[_Item] = []
    inline: list[str] = []
    in_p = False
    for item in collector.items:
        if isinstance(item, _Text):
            text, had_empty = _text(item.text, values)
            out.append(_Text(text, had_empty))
        elif isinstance(item, _Open):
            _open_inline(item, values, inline, out)
        elif isinstance(item, _Close):
            if item.tag in inline:
                _close_through(item.tag, inline, out)
        elif isinstance(item, _Img):
            img = _safe_img(item, values)
            if img is not None:
                out.append(img)
        elif isinstance(item, (_POpen, _PClose)):
            # A paragraph edge closes whatever is open, the previous paragraph included.
            _close_through(None, inline, out)
            if in_p:
                out.append(_PClose())
            in_p = isinstance(item, _POpen)
            if in_p:
                out.append(_POpen())
        else:
            out.append(item)
    _close_through(None, inline, out)
    if in_p:
        out.append(_PClose())
    return _resolve_soft_breaks(out)


def _close_through(tag: str | None, inline: list[str], out: list[_Item]) -> None:
    """Close the open inline tags, innermost first, up to and including ``tag`` (None: all)."""
    while inline:
        closed = inline.pop()
        out.append(_Close(closed))
        if closed == tag:
            break


def _open_inline(
    item: _Open, values: Mapping[str, str] | None, inline: list[str], out: list[_Item]
) -> None:
    """Open an inline tag. A link closes a link still open (links do not nest), and a link
    without a safe ``href`` is dropped: its text stays, as plain text."""
    attrs_out: tuple[tuple[str, str], ...] = ()
    if item.tag == "a":
        if "a" in inline:
            _close_through("a", inline, out)
        given = dict(item.attrs)
        href = _url(given.get("href", ""), values, _LINK_SCHEMES)
        if href is None:
            return
        attrs_out = (("href", href),)
        if "title" in given:
            attrs_out += (("title", _text(given["title"], values)[0]),)
    inline.append(item.tag)
    out.append(_Open(item.tag, attrs_out))


def _safe_img(item: _Img, values: Mapping[str, str] | None) -> _Img | None:
    """The image with its allowed attributes, or None without a safe ``src``."""
    given = dict(item.attrs)
    src = _url(given.get("src", ""), values, _IMAGE_SCHEMES)
    if src is None:
        return None
    img_attrs: list[tuple[str, str]] = [("src", src)]
    for name in ("alt", "title"):
        if name in given:
            img_attrs.append((name, _text(given[name], values)[0]))
    for name in ("width", "height"):
        if name in given and _DIMENSION.fullmatch(given[name].strip()):
            img_attrs.append((name, given[name].strip()))
    return _Img(tuple(img_attrs))


def _resolve_soft_breaks(items: list[_Item]) -> list[_Item]:
    """A block tag's break becomes ``<br>`` only between two lines that have content."""
    out: list[_Item] = []
    pending = False
    content_since_break = False
    for item in items:
        if isinstance(item, _Br) and item.soft:
            pending = pending or content_since_break
            continue
        if isinstance(item, (_POpen, _PClose)):
            pending = False
            content_since_break = False
            out.append(item)
            continue
        has_content = (isinstance(item, _Text) and item.text.strip()) or isinstance(item, _Img)
        # The break goes before an opening tag, so that it does not land inside a link.
        if pending and (has_content or isinstance(item, _Open)):
            out.append(_Br())
            pending = False
        if isinstance(item, _Br):
            pending = False
            content_since_break = False
        elif has_content:
            content_since_break = True
        out.append(item)
    return out


def _line_spans(items: list[_Item]) -> Iterator[tuple[int, int]]:
    """(start, end) index ranges of lines: runs between ``<br>`` and paragraph edges."""
    start = 0
    for i, item in enumerate(items):
        if isinstance(item, (_Br, _POpen, _PClose)):
            yield start, i
            start = i + 1
    yield start, len(items)


def _tidy_lines(items: list[_Item]) -> list[_Item]:
    """Tidy lines holding an empty token; drop those left empty, with their break."""
    result: list[_Item | None] = list(items)
    for start, end in _line_spans(items):
        texts = [(i, item) for i in range(start, end) if isinstance(item := items[i], _Text)]
        if not any(item.had_empty_token for _, item in texts):
            continue
        mask = tidy_mask("".join(item.text for _, item in texts))
        pos = 0
        for i, item in texts:
            text = item.text
            kept = "".join(c for c, k in zip(text, mask[pos : pos + len(text)], strict=True) if k)
            pos += len(text)
            result[i] = _Text(kept) if kept else None
        has_img = any(isinstance(items[i], _Img) for i in range(start, end))
        if any(m for m in mask) or has_img:
            continue
        # The line is gone: remove the break that ends it, or else the one before it.
        if end < len(items) and isinstance(items[end], _Br):
            result[end] = None
        elif start > 0 and isinstance(items[start - 1], _Br):
            result[start - 1] = None
    return _drop_empty_elements([i for i in result if i is not None])


def _drop_empty_elements(items: list[_Item]) -> list[_Item]:
    """Remove inline elements and paragraphs left with nothing inside."""
    changed = True
    while changed:
        changed = False
        out: list[_Item] = []
        for item in items:
            if out and (
                (isinstance(item, _Close) and isinstance(out[-1], _Open))
                or (isinstance(item, _PClose) and isinstance(out[-1], _POpen))
            ):
                out.pop()
                changed = True
                continue
            out.append(item)
        items = out
    # Breaks at the very start or end of a paragraph (or of the whole signature) left behind.
    cleaned: list[_Item] = []
    for index, item in enumerate(items):
        if isinstance(item, _Br):
            prev = cleaned[-1] if cleaned else None
            nxt = items[index + 1] if index + 1 < len(items) else None
            if prev is None or isinstance(prev, _POpen) or nxt is None or isinstance(nxt, _PClose):
                continue
        cleaned.append(item)
    return cleaned


# --- HTML: output ------------------------------------------------------------------------------


def _attrs_html(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in pairs)


def _to_html(items: list[_Item]) -> str:
    parts: list[str] = []
    for item in items:
        if isinstance(item, _Text):
            parts.append(html.escape(item.text, quote=False))
        elif isinstance(item, _Open):
            parts.append(f"<{item.tag}{_attrs_html(item.attrs)}>")
        elif isinstance(item, _Close):
            parts.append(f"</{item.tag}>")
        elif isinstance(item, _Img):
            parts.append(f"<img{_attrs_html(item.attrs)}>")
        elif isinstance(item, _Br):
            parts.append("<br>")
        elif isinstance(item, _POpen):
            parts.append("<p>")
        else:
            parts.append("</p>")
    return "".join(parts).strip()


def _link_target(href: str) -> str:
    if href.lower().startswith("mailto:"):
        return href[len("mailto:") :].split("?", 1)[0]
    return href


def _to_text(items: list[_Item]) -> str:
    lines: list[str] = []
    current: list[str] = []
    links: list[tuple[str, int]] = []

    def end_line() -> None:
        lines.append(" ".join("".join(current).split()))
        current.clear()
        links[:] = [(href, 0) for href, _ in links]

    for item in items:
        if isinstance(item, _Text):
            current.append(item.text)
        elif isinstance(item, _Img):
            alt = dict(item.attrs).get("alt", "").strip()
            if alt:
                current.append(alt)
        elif isinstance(item, _Open) and item.tag == "a":
            links.append((dict(item.attrs)["href"], len("".join(current))))
        elif isinstance(item, _Close) and item.tag == "a" and links:
            href, start = links.pop()
            label = " ".join("".join(current)[start:].split())
            target = _link_target(href)
            if target and target != label:
                current.append(f" <{target}>" if label else target)
        elif isinstance(item, _Br):
            end_line()
        elif isinstance(item, (_POpen, _PClose)):
            if current:
                end_line()
            if lines and lines[-1] != "":
                lines.append("")
    if current:
        end_line()
    return trim_blank_lines("\n".join(lines))


# --- public API --------------------------------------------------------------------------------


def sanitize_html(template: str) -> str:
    """The HTML template reduced to the allow-list, tokens kept as written.

    What the helpdesk should store and show in its editor; rendering sanitizes again anyway.
    """
    return _to_html(_render_items(_collect(template), None))


def render_signature(settings: SignatureSettings, values: SignatureValues) -> RenderedSignature:
    """The signature for one sender, as sanitized HTML and as plain text. Never raises."""
    mapping = values.as_mapping()
    items = _tidy_lines(_render_items(_collect(settings.html), mapping))
    rendered_html = _to_html(items)
    if settings.text is not None:
        text = render_text_template(settings.text, mapping)
    else:
        text = _to_text(items)
    return RenderedSignature(text=text, html=rendered_html)


def check_signature(settings: SignatureSettings) -> tuple[Problem, ...]:
    """Every problem with a signature template, at once: unknown tokens, unsafe links, images
    not on https, removed active content, excessive length."""
    problems: list[Problem] = []
    sources = [("signature.html", settings.html)]
    if settings.text is not None:
        sources.append(("signature.text", settings.text))
    for field, template in sources:
        if len(template) > MAX_TEMPLATE_LENGTH:
            problems.append(
                Problem(
                    code="signature.too_long",
                    message=f"at most {MAX_TEMPLATE_LENGTH} characters (this is {len(template)})",
                    field=field,
                )
            )
        unknown = [t for t in template_tokens(template) if t not in TOKENS]
        for token in unknown:
            problems.append(
                Problem(
                    code="signature.unknown_token",
                    message=f"unknown token {{{token}}}; use one of "
                    + ", ".join(f"{{{t}}}" for t in sorted(TOKENS)),
                    field=field,
                )
            )
    collector = _collect(settings.html, sanitized=False)
    for tag, _attribute, value in collector.attributes:
        if tag == "a" and _url(value, None, _LINK_SCHEMES) is None:
            problems.append(
                Problem(
                    code="signature.unsafe_link",
                    message=f"links must be absolute http, https or mailto URLs, not {value!r}",
                    field="signature.html",
                )
            )
        elif tag == "img" and _url(value, None, _IMAGE_SCHEMES) is None:
            problems.append(
                Problem(
                    code="signature.insecure_image",
                    message=f"images must be https URLs, not {value!r}",
                    field="signature.html",
                )
            )
    for removed in sorted(collector.removed):
        problems.append(
            Problem(
                code="signature.removed_content",
                message=f"not allowed in a signature, would be removed: {removed}",
                field="signature.html",
            )
        )
    return tuple(problems)
