"""The language table of forwarded blocks: rows are validated values a host can add to."""

from __future__ import annotations

import attrs
import pytest

from inboxcore.domain.errors import ConfigurationError, InvalidValueError
from inboxcore.mail.forward_languages import FORWARD_LANGUAGES, ForwardLanguage
from inboxcore.mail.forwards import (
    HEADER_LABELS,
    SubjectKind,
    parse_forwarded,
    strip_subject_prefixes,
    subject_kind,
)

ICELANDIC = ForwardLanguage(
    code="is",
    name="Icelandic",
    from_labels=("Frá",),
    to_labels=("Til",),
    date_labels=("Dagsetning", "Sent"),
    subject_labels=("Efni",),
    forward_markers=("Áframsend skilaboð",),
    forward_prefixes=("Áfr",),
    reply_prefixes=("Sv",),
)

ICELANDIC_FORWARD = (
    "Getið þið svarað henni?\n\n"
    "---------- Áframsend skilaboð ----------\n"
    "Frá: Guðrún Jónsdóttir <gudrun@vidskiptavinur.is>\n"
    "Dagsetning: þri. 12. mars 2024 kl. 09:14\n"
    "Efni: Reikningur rangur\n"
    "Til: thjonusta@acme.is\n\n"
    "Góðan dag, upphæðin á reikningnum er röng.\n"
)


def test_a_host_adds_a_language_by_passing_a_longer_table() -> None:
    """A new row makes its words known to the parser, for that call only."""
    assert parse_forwarded(ICELANDIC_FORWARD, "Áfr: Reikningur rangur") is None
    found = parse_forwarded(
        ICELANDIC_FORWARD,
        "Áfr: Reikningur rangur",
        languages=(*FORWARD_LANGUAGES, ICELANDIC),
    )
    assert found is not None
    assert found.from_address is not None
    assert found.from_address.address == "gudrun@vidskiptavinur.is"
    assert found.subject == "Reikningur rangur"
    assert found.forwarder_message == "Getið þið svarað henni?"
    # Nothing leaked into the default table.
    assert parse_forwarded(ICELANDIC_FORWARD, "Áfr: Reikningur rangur") is None
    assert ICELANDIC not in FORWARD_LANGUAGES


def test_subject_prefixes_follow_the_table_given() -> None:
    """subject_kind and strip_subject_prefixes read the same table as the parser."""
    table = (*FORWARD_LANGUAGES, ICELANDIC)
    assert subject_kind("Áfr: Reikningur") is None
    assert subject_kind("Áfr: Reikningur", languages=table) is SubjectKind.FORWARD
    assert subject_kind("SV: Áfr: Reikningur", languages=table) is SubjectKind.REPLY
    assert strip_subject_prefixes("Sv: Áfr: Reikningur", languages=table) == "Reikningur"
    assert strip_subject_prefixes("Áfr: Reikningur") == "Áfr: Reikningur"


def test_a_prefix_that_is_forward_in_one_language_and_reply_in_another_reads_forward() -> None:
    """Danish "VS" forwards, Finnish "VS" replies (both rows say so): forward wins."""
    finnish = next(language for language in FORWARD_LANGUAGES if language.code == "fi")
    assert "VS" in finnish.reply_prefixes
    assert subject_kind("VS: Lasku") is SubjectKind.FORWARD
    assert subject_kind("VS: Lasku", languages=(finnish,)) is SubjectKind.REPLY


def test_a_label_naming_two_fields_is_refused() -> None:
    """A table where one label is From in a row and To in another cannot be read: refused."""
    clash = ForwardLanguage(code="xx", name="Clash", to_labels=("Von",))
    with pytest.raises(ConfigurationError) as caught:
        parse_forwarded("text", None, languages=(*FORWARD_LANGUAGES, clash))
    assert [p.code for p in caught.value.problems] == ["forward_languages.label_clash"]
    assert "Von" in caught.value.problems[0].message


def test_the_shipped_table_reads_unambiguously() -> None:
    """Every built-in label names one field, and every row has its own code."""
    codes = [language.code for language in FORWARD_LANGUAGES]
    assert len(codes) == len(set(codes))
    parse_forwarded("text", None, languages=list(FORWARD_LANGUAGES))  # compiles, no clash
    assert "Von" in HEADER_LABELS["from"]
    assert "送信元" in HEADER_LABELS["from"]
    assert "送信先" in HEADER_LABELS["to"]


def test_cells_accept_any_iterable_and_collapse_white_space() -> None:
    """Cells become tuples of words with single spaces; a lone string is one word."""
    language = ForwardLanguage(code="xx", name="Test", from_labels=["Sent  by"], to_labels="For")
    assert language.from_labels == ("Sent by",)
    assert language.to_labels == ("For",)


@pytest.mark.parametrize(
    "fields",
    [
        {"code": " "},
        {"from_labels": ("From:",)},
        {"from_labels": ("",)},
        {"date_labels": ("2024",)},
        {"reply_templates": ("On {date} {name} wrote:",)},
        {"reply_templates": ("On {date} {name} {addr} wrote",)},
        {"reply_templates": ("On {when} {addr} wrote:",)},
        {"reply_templates": ("{addr} {addr}:",)},
        {"forward_prefixes": ("Fwd:",)},
        {"forward_prefixes": ("Fw d",)},
        {"reply_prefixes": ("R3",)},
        {"forward_markers": (42,)},
    ],
)
def test_rows_that_the_scanner_could_not_read_are_refused(fields: dict[str, object]) -> None:
    """Labels, templates and prefixes the rules could never match raise at construction."""
    values: dict[str, object] = {"code": "xx", "name": "Test", **fields}
    with pytest.raises(InvalidValueError):
        ForwardLanguage(**values)  # type: ignore[arg-type]


def test_a_table_of_other_values_is_a_type_error() -> None:
    """Passing something that is not a ForwardLanguage is the host's mistake: an exception."""
    with pytest.raises(TypeError):
        parse_forwarded("text", None, languages=("en",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "prefix", ["Fwd", "WG", "TR", "RV", "Enc", "I", "Doorst", "VS", "ДО", "转发", "転送"]
)
def test_the_localized_forward_prefixes_read_as_forwards(prefix: str) -> None:
    """Every forward prefix Outlook and the others write (issue 16's list) says forward."""
    assert subject_kind(f"{prefix}: Pedido 88") is SubjectKind.FORWARD
    assert subject_kind(f"{prefix}：Pedido 88") is SubjectKind.FORWARD  # full-width colon
    assert strip_subject_prefixes(f"{prefix}: Pedido 88") == "Pedido 88"


@pytest.mark.parametrize("language", FORWARD_LANGUAGES, ids=lambda language: language.code)
def test_rows_are_already_normal(language: ForwardLanguage) -> None:
    """Rebuilding a shipped row from its own cells gives the same row (normalising is
    idempotent), so the table in the source is exactly the table used."""
    assert attrs.evolve(language) == language
    assert ForwardLanguage(**attrs.asdict(language)) == language
