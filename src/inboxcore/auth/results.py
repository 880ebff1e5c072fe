"""Authentication-Results (RFC 8601): the header we write, and the message as a host shows it.

**Writing.** Our own result is composed with the ``authres`` package. Its values come from the
envelope and from the message (a refused signature's ``d=`` and ``s=`` as written), so each is
made one printable line and quoted where it is not a token or an address: authres's own quoting
leaves any value with an ``@`` bare, which a hostile ``x@"`` turns into a field whose later
results are swallowed (we set our own value object on its properties). It is
stored with the message record (:attr:`~inboxcore.domain.model.Message.authentication_results`)
so that "why was this let in?" can be answered later, and put on top of the message a host shows.

**Reading** stays with :func:`inboxcore.auth.arc.parse_authentication_results`, for a measured
reason: on the 130 Authentication-Results and ARC-Authentication-Results fields of the shared
corpus, unfolded, ``authres`` 1.2 refused 24 (Yahoo's and Microsoft's non-RFC fields, raising
``SyntaxError``), has no ARC-Authentication-Results reader (the ``i=`` tag), and took 5 to 11
times as long as ours, which reads all 130 and never raises (``docs/performance.md``).
:func:`incoming_results` gives the values as written, never RFC 2047 decoded.

**Showing.** Anyone can write ``Authentication-Results: inboxcore; dkim=pass`` into a message.
RFC 8601 §5 says a receiver removes or renames such fields claiming its own authserv-id before
the message is shown; :func:`display_source` renames them to ``X-Original-Authentication-Results``
and puts our own result on top. The stored raw bytes are never rewritten (DKIM and the
content-addressed raw id depend on them): the display copy is derived.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs
import authres

from inboxcore.auth.arc import ArcResult, _unquote, parse_authentication_results
from inboxcore.auth.dkim_verify import DkimSignatureResult
from inboxcore.auth.dmarc import DmarcResult
from inboxcore.auth.spf import SpfResult
from inboxcore.mail.parsing import ParsedMessage

__all__ = [
    "RENAMED_HEADER",
    "claims_authserv_id",
    "display_source",
    "incoming_results",
    "results_header",
]

RENAMED_HEADER = "X-Original-Authentication-Results"
"""What an incoming field claiming our authserv-id is renamed to in the display copy."""

_PREFIX = "Authentication-Results: "
_NAME = "authentication-results"
_FIELD = re.compile(rb"^Authentication-Results[ \t]*:", re.IGNORECASE)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _one_line(value: str) -> str:
    """A property value as one printable line. The values come from the message (a refused
    signature's ``d=`` and ``s=`` as written, folding and all) and the envelope: quoting keeps
    them inside their property, and this keeps a line break or a NUL out of the field we store
    and put on top of the shown message."""
    return _CONTROL.sub("\ufffd", " ".join(value.split()))


# A property value left bare: an RFC 2045 token, or an address (``ann@customer.example``,
# ``@customer.example``: RFC 8601's pvalue). Everything else is quoted.
_BARE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*@[A-Za-z0-9.-]+")


@attrs.frozen
class _Value:
    """A property value that quotes itself correctly. authres's own ``QuotableValue`` leaves
    any value holding an ``@`` bare, taking it for an address: a hostile selector ``x@"`` or
    envelope domain ``a@b (c`` would then swallow the results after it into a quoted string
    or a comment."""

    text: str

    def quote_if_needed(self) -> str:
        if _BARE.fullmatch(self.text):
            return self.text
        return '"' + re.sub(r'(["\\])', r"\\\1", self.text) + '"'


def _property(kind: str, name: str, value: str) -> authres.AuthenticationResultProperty:
    written = authres.AuthenticationResultProperty(kind, name)
    written.value = _Value(_one_line(value))
    return written


def _result(method: str, result: str, *props: tuple[str, str, str]) -> authres.AuthenticationResult:
    properties = [_property(t, n, v) for t, n, v in props if v.strip()]
    return authres.AuthenticationResult(method=method, result=result, properties=properties)


def results_header(
    authserv_id: str,
    spf: SpfResult | None,
    dkim: Sequence[DkimSignatureResult],
    arc: ArcResult | None,
    dmarc: DmarcResult | None,
) -> str:
    """Our Authentication-Results field value: one result per method (``none`` where a check
    did not run), DKIM once per signature, topmost first."""
    results = []
    if spf is None:
        results.append(_result("spf", "none"))
    else:
        name = "helo" if spf.identity == "helo" else "mailfrom"
        results.append(_result("spf", spf.result, ("smtp", name, spf.domain)))
    results += [
        _result(
            "dkim",
            d.result,
            ("header", "d", d.domain),
            ("header", "s", d.selector),
            ("header", "b", d.header_b),
        )
        for d in dkim
    ] or [_result("dkim", "none")]
    results.append(_result("arc", arc.result if arc is not None else "none"))
    if dmarc is None:
        results.append(_result("dmarc", "none"))
    else:
        results.append(
            _result(
                "dmarc",
                dmarc.result,
                ("policy", "dmarc", dmarc.policy or ""),
                ("header", "from", dmarc.from_domain or ""),
            )
        )
    text = str(authres.AuthenticationResultsHeader(authserv_id=authserv_id, results=results))
    return text.removeprefix(_PREFIX)


_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\n|\r)?")


def _header_lines(raw: bytes) -> tuple[list[bytes], int]:
    """The lines of the header section (line endings kept) and where the rest starts: the
    first empty line, as the parser has it. Not the first ``\r\n\r\n`` in the message,
    which in a message with LF endings may lie deep in the body."""
    lines: list[bytes] = []
    for match in _LINE.finditer(raw):
        line = match.group()
        if not line:
            break
        if line in (b"\r\n", b"\n", b"\r"):
            return lines, match.start()
        lines.append(line)
    return lines, len(raw)


def _value(field: bytes) -> str:
    return field.split(b":", 1)[1].decode("utf-8", "replace")


def incoming_results(parsed: ParsedMessage) -> tuple[str, ...]:
    """The values of the message's Authentication-Results fields, topmost first, as written:
    never RFC 2047 decoded. An encoded word is not a token (``=?utf-8?q?mx.edge.example?=`` is
    not our edge's authserv-id), and an edge MTA removing forged fields of its own id does not
    decode them either, so a decoded copy could pass for its field."""
    return tuple(_value(field) for name, field in parsed.raw_headers() if name.lower() == _NAME)


def claims_authserv_id(value: str, authserv_id: str) -> bool:
    """Whether an Authentication-Results value claims ``authserv_id``, in any spelling a reader
    might take for it: comments, a version, no space, any case, or quoted (``"inboxcore"``: it
    is renamed where shown, though intake never trusts a quoted id). Never raises."""
    parsed = parse_authentication_results(value)
    return parsed is not None and _unquote(parsed.authserv_id) == authserv_id.lower()


def display_source(raw: bytes, *, authserv_id: str, ours: str | None) -> bytes:
    """The message as a host should show it ("show original"): our own Authentication-Results
    on top (when known), and every incoming one claiming ``authserv_id`` renamed to
    :data:`RENAMED_HEADER`, so that nobody reads a forged verdict as ours. Other fields,
    trusted upstream results among them, and the body are left exactly as received."""
    lines, body_start = _header_lines(raw)
    first = lines[0] if lines else b"\r\n"
    newline = first[len(first.rstrip(b"\r\n")) :] or b"\r\n"
    out: list[bytes] = []
    index = 0
    while index < len(lines):
        field = [lines[index]]
        index += 1
        while index < len(lines) and lines[index][:1] in (b" ", b"\t"):
            field.append(lines[index])
            index += 1
        joined = b"".join(field)
        if _FIELD.match(joined) and claims_authserv_id(_value(joined), authserv_id):
            joined = RENAMED_HEADER.encode() + joined[joined.index(b":") :]
        out.append(joined)
    top = (_PREFIX + ours).encode("utf-8") + newline if ours else b""
    return top + b"".join(out) + raw[body_start:]
