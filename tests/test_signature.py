"""Team signatures: tokens, sanitizing, escaping, tidy rendering of missing values."""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import Problem
from inboxcore.domain.ids import AccountId, UserId
from inboxcore.domain.model import SignatureSettings, User
from inboxcore.policies.signature import (
    TOKENS,
    SignatureValues,
    check_signature,
    render_signature,
    sanitize_html,
    template_tokens,
)

JANE = SignatureValues(
    agent_full_name="Jane Doe",
    agent_first_name="Jane",
    agent_last_name="Doe",
    agent_email="jane@acme.example",
    company="Acme",
)
NOBODY = SignatureValues(company="Acme")

GMAIL_STYLE = (
    '<div dir="ltr"><div><b>{agent.full_name}</b>, {company}</div>'
    '<div><span style="color:#888">{agent.email} | <a href="https://acme.example">'
    "acme.example</a></span></div>"
    '<div><img src="https://cdn.acme.example/logo.png" alt="Acme logo" width="120"></div></div>'
)


def codes(problems: Iterable[Problem]) -> set[str]:
    return {p.code for p in problems}


def render(html: str, values: SignatureValues = JANE, text: str | None = None) -> tuple[str, str]:
    result = render_signature(SignatureSettings(html=html, text=text), values)
    return result.html, result.text


# --- tokens ----------------------------------------------------------------------------------


def test_all_tokens_render_their_values() -> None:
    """Each documented token becomes the agent's or company's value."""
    html, text = render(
        "{agent.full_name} / {agent.first_name} / {agent.last_name} / {agent.email} / {company}"
    )
    assert html == "Jane Doe / Jane / Doe / jane@acme.example / Acme"
    assert text == html


def test_tokens_ignore_case_and_inner_spaces() -> None:
    """{ Agent.First_Name } is the same token as {agent.first_name}."""
    assert render("Hi {  Agent.First_Name }")[0] == "Hi Jane"


def test_double_braces_are_literal() -> None:
    """{{ and }} write literal braces, not tokens."""
    html, _ = render("{{agent.first_name}} {agent.first_name}")
    assert html == "{agent.first_name} Jane"
    assert template_tokens("{{company}}") == ()


def test_values_for_agent_come_from_the_user() -> None:
    """SignatureValues.for_agent takes names and email from the User."""
    user = User(
        id=UserId("u-1"),
        account_id=AccountId("a-1"),
        email=EmailAddress.parse("zoe@acme.example"),
        first_name="Zoë",
        last_name="Åberg",
    )
    values = SignatureValues.for_agent(user, "Acme")
    assert values.agent_full_name == "Zoë Åberg"
    assert values.agent_email == "zoe@acme.example"
    assert SignatureValues.for_agent(None, "Acme").agent_first_name == ""


def test_unknown_tokens_are_problems_and_render_empty() -> None:
    """An unknown token is reported by the check and renders as nothing."""
    settings_ = SignatureSettings(html="<p>{agent.phone} {company}</p>", text="{agent.nick}")
    found = check_signature(settings_)
    assert [(p.code, p.field) for p in found] == [
        ("signature.unknown_token", "signature.html"),
        ("signature.unknown_token", "signature.text"),
    ]
    assert "{agent.phone}" in found[0].message
    assert render("<p>{agent.phone} {company}</p>")[0] == "<p>Acme</p>"


def test_known_tokens_pass_the_check() -> None:
    """A template using only documented tokens has no problems."""
    assert check_signature(SignatureSettings(html=GMAIL_STYLE)) == ()


# --- escaping and sanitizing ------------------------------------------------------------------


def test_token_values_are_html_escaped() -> None:
    """A value holding markup is shown as text, never interpreted."""
    evil = SignatureValues(agent_full_name='<img src=x onerror="alert(1)">', company="A & B")
    html, text = render("<p>{agent.full_name}, {company}</p>", evil)
    assert "<img" not in html
    assert "&lt;img" in html
    assert "A &amp; B" in html
    assert text == '<img src=x onerror="alert(1)">, A & B'


def test_scripts_and_styles_are_removed_with_their_content() -> None:
    """script, style and iframe vanish with everything inside them."""
    html, _ = render(
        "<p>Hi<script>alert(1)</script><style>p{color:red}</style>"
        '<iframe src="https://evil.example">x</iframe></p>'
    )
    assert html == "<p>Hi</p>"


@pytest.mark.parametrize(
    "template",
    [
        # mutation XSS: markup that re-parses differently once serialized
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
        "<svg><p><style><img src=x onerror=alert(1)></style></p></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        "<form><math><mtext></form><form><mglyph><style></math><img src=x onerror=alert(1)>",
        # entities and whitespace inside a scheme, unclosed and malformed tags
        '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
        '<a href="jav&#x0A;ascript:alert(1)">x</a>',
        '<a href=" &#14;  javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)//",
        '<a href="https://ok.example" onmouseover=alert(1)>x',
        "<<script>alert(1)//<</script>",
        '<IMG """><SCRIPT>alert(1)</SCRIPT>">',
        "<!--<img src=x onerror=alert(1)>-->",
        '<a href="https://ok.example" style="background:url(javascript:alert(1))">x</a>',
    ],
)
def test_classic_xss_payloads_render_inert(template: str) -> None:
    """Payloads from the sanitizer bypass literature leave no script, handler, style or
    javascript: URL in the HTML, however the markup is broken."""
    html, _ = render(template)
    audit = _Audit()
    audit.feed(html)
    audit.close()
    assert audit.bad == []
    assert "onerror" not in html.lower()
    assert "javascript" not in html.lower()
    assert "style=" not in html.lower()


def test_a_lone_surrogate_is_replaced_not_raised() -> None:
    """A template holding a lone surrogate (JSON allows ``"\\ud800"``) renders with U+FFFD in its
    place; nh3 alone would raise, as it hands the text to Rust as UTF-8."""
    template = '<p>Jane \ud800Doe <a href="https://acme.example">site</a></p>'
    html, text = render(template)
    assert html == '<p>Jane \ufffdDoe <a href="https://acme.example">site</a></p>'
    assert "Jane \ufffdDoe" in text
    assert sanitize_html(template) == html
    assert check_signature(SignatureSettings(html=template)) == ()


def test_characters_outside_the_bmp_pass_unchanged() -> None:
    """The legitimate twin: an emoji (a surrogate pair in UTF-16) is kept as written."""
    html, _ = render("<p>Thanks \N{WAVING HAND SIGN} {company}</p>")
    assert html == "<p>Thanks \N{WAVING HAND SIGN} Acme</p>"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "&#106;avascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "/relative/path",
        "//evil.example/x",
        "https:/\\evil.example",
    ],
)
def test_unsafe_links_lose_their_tag_but_keep_their_text(href: str) -> None:
    """Links not http/https/mailto are unlinked; the text stays; the check reports them."""
    html, _ = render(f'<a href="{href}">click</a>')
    assert html == "click"
    assert "signature.unsafe_link" in codes(
        check_signature(SignatureSettings(html=f'<a href="{href}">click</a>'))
    )


def test_allowed_tags_and_attributes_survive() -> None:
    """p, br, b, strong, i, em, a and img keep their allowed attributes; others are dropped."""
    source = (
        '<p class="x"><b>B</b><strong>S</strong><i>I</i><em>E</em><br>'
        '<a href="mailto:help@acme.example" title="Mail" target="_blank" style="c">m</a> '
        '<img src="https://cdn.example/l.png" alt="L" width="120" height="40px" onload="x()"></p>'
    )
    html, _ = render(source)
    assert html == (
        "<p><b>B</b><strong>S</strong><i>I</i><em>E</em><br>"
        '<a href="mailto:help@acme.example" title="Mail">m</a> '
        '<img src="https://cdn.example/l.png" alt="L" width="120"></p>'
    )


def test_images_must_be_https() -> None:
    """An http or data: image is removed and reported."""
    source = '<img src="http://cdn.example/l.png"><img src="data:image/png;base64,AAAA">ok'
    assert render(source)[0] == "ok"
    assert codes(check_signature(SignatureSettings(html=source))) == {"signature.insecure_image"}


def test_editor_blocks_become_lines() -> None:
    """div-based signatures from mail clients keep their line structure."""
    html, text = render(GMAIL_STYLE)
    assert html == (
        "<b>Jane Doe</b>, Acme<br>jane@acme.example | "
        '<a href="https://acme.example">acme.example</a><br>'
        '<img src="https://cdn.acme.example/logo.png" alt="Acme logo" width="120">'
    )
    assert text == (
        "Jane Doe, Acme\njane@acme.example | acme.example <https://acme.example>\nAcme logo"
    )


def test_unbalanced_markup_is_balanced() -> None:
    """Unclosed tags are closed and stray end tags dropped, as a browser parses the markup (the
    formatting still open after ``</p>`` carries on, per the HTML parsing algorithm)."""
    html, _ = render("<p><b>bold <i>both</p></em>after</b>")
    assert html == "<p><b>bold <i>both</i></b></p><b><i>after</i></b>"


def test_tokens_inside_links_are_percent_encoded() -> None:
    """A token in an href is URL-encoded, so it cannot change the link's scheme or host."""
    values = SignatureValues(agent_email="jane@acme.example", agent_first_name='x" onclick="y')
    html, _ = render(
        '<a href="mailto:{agent.email}">mail</a> <a href="https://acme.example/{agent.first_name}">'
        "me</a>",
        values,
    )
    assert '<a href="mailto:jane@acme.example">mail</a>' in html
    assert 'href="https://acme.example/x%22%20onclick%3D%22y"' in html


def test_sanitize_keeps_tokens_and_is_idempotent() -> None:
    """sanitize_html keeps tokens (also in URLs) and sanitizing twice changes nothing."""
    clean = sanitize_html('<div><a href="mailto:{agent.email}" onclick="x">{agent.email}</a></div>')
    assert clean == '<a href="mailto:{agent.email}">{agent.email}</a>'
    assert sanitize_html(clean) == clean


def test_removed_active_content_is_reported() -> None:
    """Scripts, forms and event handlers are reported as removed content."""
    found = check_signature(
        SignatureSettings(html='<form><input></form><p onclick="x">a</p><script>y</script>')
    )
    messages = " ".join(p.message for p in found)
    assert codes(found) == {"signature.removed_content"}
    assert "<script>" in messages
    assert "<form>" in messages
    assert "event handler" in messages


def test_overlong_templates_are_reported() -> None:
    """A template over the limit is a problem."""
    assert "signature.too_long" in codes(check_signature(SignatureSettings(html="x" * 20_001)))


# --- missing values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{agent.full_name}, {company}", "Acme"),
        ("{company}, {agent.full_name}", "Acme"),
        ("{agent.first_name} {agent.last_name} | {company}", "Acme"),
        ("{company} | {agent.email} | Call us", "Acme | Call us"),
        ("Best,<br>{agent.first_name}<br>{company}", "Best,<br>Acme"),
        ("<p>{agent.full_name}</p><p>{company}</p>", "<p>Acme</p>"),
        ("<div>{agent.full_name}</div><div>{company}</div>", "Acme"),
        ("<b>{agent.full_name}</b> · {company}", "Acme"),
        ("Mail: {agent.email}<br>Team: {company}", "Mail:<br>Team: Acme"),
    ],
)
def test_missing_values_leave_no_artifacts(template: str, expected: str) -> None:
    """Empty tokens leave no double spaces, dangling separators, empty lines or empty tags."""
    assert render(template, NOBODY)[0] == expected


def test_lines_without_empty_tokens_are_untouched() -> None:
    """Only lines with an empty token are tidied; the '-- ' delimiter and spacing survive."""
    _, text = render("", NOBODY, text="-- \n{agent.full_name}\n{company}  |  Support\n\nBye")
    assert text == "-- \nAcme  |  Support\n\nBye"


def test_text_template_tidies_like_html() -> None:
    """The plain-text template drops empty lines and dangling commas too."""
    _, text = render("", NOBODY, text="{agent.full_name}, {company}\n{agent.email}\nacme.example")
    assert text == "Acme\nacme.example"


def test_text_is_derived_from_html_when_not_given() -> None:
    """Paragraphs become blank lines, links show their target, mailto shows the address."""
    _, text = render(
        '<p>Best,<br>{agent.first_name}</p><p><a href="mailto:{agent.email}">Write to me</a> or '
        '<a href="https://acme.example/help">https://acme.example/help</a></p>'
    )
    assert text == ("Best,\nJane\n\nWrite to me <jane@acme.example> or https://acme.example/help")


# --- properties -------------------------------------------------------------------------------

_HTMLISH = st.lists(
    st.sampled_from(
        [
            *"<>/=\"' &;:{}.,|-",
            *("a", "b", "p", "br", "img", "src", "href", "script", "javascript"),
            *sorted(TOKENS),
            *(
                "{agent.full_name}",
                "{company}",
                "https://x.example",
                "\n",
                "é",
                "\ud800",
                "\N{WAVING HAND SIGN}",
            ),
            *("<a href=", "<img src=", "<p>", "</p>", "<br>", "<div>", "</div>", "<script>", " on"),
        ]
    ),
    max_size=30,
).map("".join)

_ALLOWED = {
    "p": set(),
    "br": set(),
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
}


class _Audit(HTMLParser):
    """Collects every tag and attribute of rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED:
            self.bad.append(tag)
            return
        for name, value in attrs:
            if name not in _ALLOWED[tag]:
                self.bad.append(f"{tag}@{name}")
            scheme = (value or "").split(":", 1)[0].lower()
            if name == "href" and scheme not in ("http", "https", "mailto"):
                self.bad.append(f"href={value}")
            if name == "src" and scheme != "https":
                self.bad.append(f"src={value}")


_VALUES = st.builds(
    SignatureValues,
    agent_full_name=st.text(max_size=15),
    agent_first_name=st.text(max_size=10),
    agent_email=st.text(max_size=15),
    company=st.text(max_size=15),
)


@settings(max_examples=150)
@given(_HTMLISH, _VALUES)
def test_rendering_never_raises_and_never_emits_active_content(
    template: str, values: SignatureValues
) -> None:
    """No template or value makes rendering crash or emit scripts, handlers or javascript: URLs."""
    result = render_signature(SignatureSettings(html=template), values)
    audit = _Audit()
    audit.feed(result.html)
    audit.close()
    assert audit.bad == []


@settings(max_examples=150)
@given(_HTMLISH)
def test_sanitizing_is_idempotent(template: str) -> None:
    """Sanitizing sanitized HTML changes nothing."""
    once = sanitize_html(template)
    assert sanitize_html(once) == once


def test_line_break_from_a_block_goes_before_a_link() -> None:
    """A link alone in a div starts its own line; the break never lands inside the link."""
    html, text = render('<div>{company}</div><div><a href="https://acme.example">site</a></div>')
    assert html == 'Acme<br><a href="https://acme.example">site</a>'
    assert text == "Acme\nsite <https://acme.example>"
