"""DMARC: policy discovery (tree walk and PSL), alignment, sp/np, pct/t, and DNS failures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.dmarc import (
    DMARC_RESULTS,
    DmarcResult,
    evaluate_dmarc,
    organizational_domain,
    parse_dmarc_record,
    sampling_value,
)
from inboxcore.auth.spf import SpfResult
from inboxcore.domain.errors import DnsTemporaryError, InvalidValueError
from inboxcore.testing import InMemoryDns

REJECT = "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"


def _spf(domain: str, result: str = "pass", identity: str = "mailfrom") -> SpfResult:
    return SpfResult(result=result, domain=domain, identity=identity, ip="192.0.2.1")  # type: ignore[arg-type]


def _eval(
    zone: dict[str, Any] | InMemoryDns,
    from_domain: str | list[str],
    *,
    spf: SpfResult | None = None,
    dkim: tuple[str, ...] = (),
    **kwargs: Any,
) -> DmarcResult:
    dns = zone if isinstance(zone, InMemoryDns) else InMemoryDns(zone)
    domains = [from_domain] if isinstance(from_domain, str) else from_domain
    return evaluate_dmarc(from_domains=domains, spf=spf, dkim_pass_domains=dkim, dns=dns, **kwargs)


# --- records -------------------------------------------------------------------------------


def test_parse_full_record() -> None:
    """Every tag of a real-world record is read, case-insensitively where the ABNF says so."""
    record = parse_dmarc_record(
        "v=DMARC1; p=Reject; sp=quarantine; np=reject; adkim=s; aspf=S; pct=50; t=y; psd=n; "
        "rua=mailto:agg@example.com,mailto:agg2@example.net!10m; ruf=mailto:f@example.com; fo=1"
    )
    assert record is not None
    assert (record.p, record.sp, record.np) == ("reject", "quarantine", "reject")
    assert (record.adkim, record.aspf, record.pct, record.testing, record.psd) == (
        "s",
        "s",
        50,
        True,
        "n",
    )
    assert record.rua == ("mailto:agg@example.com", "mailto:agg2@example.net")
    assert record.problems == ()


@pytest.mark.parametrize(
    "text",
    [
        "p=reject; v=DMARC1",  # v must come first
        "v=dmarc1; p=reject",  # the version value is case-sensitive
        "v=DMARC2; p=reject",
        "v=spf1 -all",
        "",
    ],
)
def test_text_that_is_not_a_dmarc_record(text: str) -> None:
    """Anything not starting with v=DMARC1 is not a DMARC record and is discarded."""
    assert parse_dmarc_record(text) is None


def test_missing_p_means_none_and_bad_values_fall_back_to_defaults() -> None:
    """Without p the record is p=none; bad adkim/pct/t values take defaults; unknown tags ignored."""
    record = parse_dmarc_record("v=DMARC1 ; adkim=x; pct=150; t=maybe; future=1; junk")
    assert record is not None
    assert record.p == "none"
    assert (record.adkim, record.pct, record.testing) == ("r", 100, False)
    assert not record.invalid_policy
    assert len(record.problems) == 5


def test_invalid_policy_is_flagged() -> None:
    """An invalid p, sp or np marks the record, for the rua rule of RFC 9989 4.10.1."""
    for text in ("v=DMARC1; p=block", "v=DMARC1; p=reject; sp=maybe", "v=DMARC1; p=none; np=x"):
        record = parse_dmarc_record(text)
        assert record is not None
        assert record.invalid_policy


def test_invalid_policy_with_report_address_acts_as_none() -> None:
    """A broken p with a usable rua is treated as p=none: DMARC fails but nothing is enforced."""
    result = _eval(
        {"_dmarc.shop.example": {"TXT": ["v=DMARC1; p=rejectt; rua=mailto:d@shop.example"]}},
        "shop.example",
    )
    assert result.result == "fail"
    assert result.applied_policy == "none"


def test_invalid_policy_without_report_address_is_permerror() -> None:
    """A broken p and no rua: DMARC cannot be applied, a permerror that says why."""
    result = _eval({"_dmarc.shop.example": {"TXT": ["v=DMARC1; p=rejectt"]}}, "shop.example")
    assert result.result == "permerror"
    assert result.reason.code == "dmarc.invalid_record"
    assert result.applied_policy is None


def test_record_split_into_several_strings_is_joined() -> None:
    """A TXT record of several character-strings is read as one (RFC 9989 section 3.2.4)."""
    zone = {"_dmarc.long.example": {"TXT": [["v=DMARC1; p=rej", "ect; adkim=s"]]}}
    result = _eval(zone, "long.example")
    assert result.policy == "reject"


# --- verdicts --------------------------------------------------------------------------------


def test_gmail_forward_passes_on_intact_dkim() -> None:
    """Gmail auto-forward: SPF passes for the forwarder (unaligned) but gmail.com DKIM aligns."""
    zone = {
        "_dmarc.gmail.com": {
            "TXT": ["v=DMARC1; p=none; sp=quarantine; rua=mailto:mailauth-reports@google.com"]
        }
    }
    result = _eval(zone, "gmail.com", spf=_spf("forwarder.example.net"), dkim=("gmail.com",))
    assert result.result == "pass"
    assert result.dkim_aligned
    assert not result.spf_aligned
    assert result.applied_policy is None


def test_spoofed_reject_domain_fails_with_reject() -> None:
    """A forged From of a p=reject domain with only the forger's own auth fails with reject."""
    zone = {"_dmarc.bank.example": {"TXT": [REJECT]}}
    result = _eval(zone, "bank.example", spf=_spf("phish.example"), dkim=("phish.example",))
    assert result.result == "fail"
    assert result.policy == "reject"
    assert result.applied_policy == "reject"
    assert result.policy_domain == "bank.example"
    assert result.record == REJECT
    assert result.reason.code == "dmarc.fail"


def test_p_none_failure_applies_none() -> None:
    """A failing message under p=none is a fail with nothing to enforce."""
    result = _eval({"_dmarc.news.example": {"TXT": ["v=DMARC1; p=none"]}}, "news.example")
    assert result.result == "fail"
    assert result.applied_policy == "none"


def test_no_record_is_none() -> None:
    """No record anywhere up the tree: result none, no policy."""
    result = _eval({}, "quiet.example")
    assert result.result == "none"
    assert result.policy is None
    assert result.reason.code == "dmarc.no_policy"


def test_no_from_domain_is_a_result_saying_so() -> None:
    """A message without a From domain gets result none with its own reason code."""
    result = evaluate_dmarc(from_domains=[], spf=None, dkim_pass_domains=(), dns=InMemoryDns({}))
    assert result.result == "none"
    assert result.from_domain is None
    assert result.reason.code == "dmarc.no_from_domain"


# --- alignment ------------------------------------------------------------------------------


def test_relaxed_spf_alignment_across_subdomains() -> None:
    """SPF pass for bounce.example.com aligns (relaxed) with From example.com."""
    zone = {"_dmarc.example.com": {"TXT": [REJECT]}}
    result = _eval(zone, "example.com", spf=_spf("bounce.example.com"))
    assert result.result == "pass"
    assert result.spf_aligned
    assert result.org_domain == "example.com"


def test_strict_alignment_needs_the_exact_domain() -> None:
    """aspf=s and adkim=s: a subdomain identifier does not align, the exact domain does."""
    zone = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; aspf=s; adkim=s"]}}
    assert _eval(zone, "example.com", spf=_spf("bounce.example.com")).result == "fail"
    assert _eval(zone, "example.com", dkim=("mail.example.com",)).result == "fail"
    assert _eval(zone, "example.com", spf=_spf("EXAMPLE.COM")).result == "pass"
    assert _eval(zone, "example.com", dkim=("example.com.",)).result == "pass"


def test_only_a_passing_mailfrom_spf_counts() -> None:
    """SPF softfail, or a pass for the HELO identity, never aligns (RFC 9989 section 3.2.2)."""
    zone = {"_dmarc.example.com": {"TXT": [REJECT]}}
    assert _eval(zone, "example.com", spf=_spf("example.com", "softfail")).result == "fail"
    assert _eval(zone, "example.com", spf=_spf("example.com", identity="helo")).result == "fail"


def test_lower_dkim_signature_aligned_is_enough() -> None:
    """Several DKIM passes where only the last (lower) one is aligned: pass on DKIM."""
    zone = {"_dmarc.acme-corp.example": {"TXT": [REJECT]}}
    result = _eval(
        zone,
        "acme-corp.example",
        dkim=("esp-mailer.example", "lists.example.org", "acme-corp.example"),
    )
    assert result.result == "pass"
    assert result.dkim_aligned


def test_hyphenated_domains_align_and_are_not_confused() -> None:
    """my-shop.example aligns with mail.my-shop.example but not with shop.example."""
    zone = {"_dmarc.my-shop.example": {"TXT": [REJECT]}}
    assert _eval(zone, "my-shop.example", dkim=("mail.my-shop.example",)).result == "pass"
    assert _eval(zone, "my-shop.example", dkim=("shop.example",)).result == "fail"
    assert _eval(zone, "my-shop.example", dkim=("y-shop.example",)).result == "fail"


def test_internationalized_from_domain_is_looked_up_as_a_label() -> None:
    """A U-label From domain (bücher.example) uses _dmarc.xn--bcher-kva.example and aligns with it."""
    dns = InMemoryDns({"_dmarc.xn--bcher-kva.example": {"TXT": [REJECT]}})
    result = _eval(dns, "Bücher.example", dkim=("mail.xn--bcher-kva.example",))
    assert result.result == "pass"
    assert result.from_domain == "xn--bcher-kva.example"
    assert ("_dmarc.xn--bcher-kva.example", "TXT") in dns.calls
    failed = _eval(dns, "xn--bcher-kva.example", dkim=("bucher.example",))
    assert failed.result == "fail"
    assert failed.applied_policy == "reject"


def test_sharp_s_from_domain_aligns_only_with_itself() -> None:
    """IDNA 2008: From straße.example is xn--strae-oqa.example; a DKIM pass for
    strasse.example (what IDNA 2003 made of it) is another domain and does not align."""
    dns = InMemoryDns({"_dmarc.xn--strae-oqa.example": {"TXT": [REJECT]}})
    result = _eval(dns, "Straße.example", dkim=("xn--strae-oqa.example",))
    assert result.result == "pass"
    assert result.from_domain == "xn--strae-oqa.example"
    spoof = _eval(dns, "straße.example", dkim=("strasse.example",))
    assert spoof.result == "fail"
    assert spoof.applied_policy == "reject"


def test_invalid_from_domain_is_permerror() -> None:
    """A From domain that is not a domain name is a permerror, not a crash."""
    result = _eval({}, "exa mple..com")
    assert result.result == "permerror"
    assert result.reason.code == "dmarc.invalid_from_domain"


# --- subdomains: sp and np -------------------------------------------------------------------


SUBDOMAIN_ZONE: dict[str, Any] = {
    "_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; sp=quarantine; np=reject"]},
    "support.example.com": {"MX": ["10 mx.example.com"]},
}


def test_existing_subdomain_gets_sp() -> None:
    """A subdomain that exists takes sp from the organizational record."""
    result = _eval(SUBDOMAIN_ZONE, "support.example.com")
    assert result.result == "fail"
    assert result.policy == "quarantine"
    assert result.policy_domain == "example.com"
    assert "sp=quarantine" in result.reason.message


def test_nonexistent_subdomain_gets_np() -> None:
    """A subdomain with no A, AAAA or MX takes np (a made-up sender domain)."""
    dns = InMemoryDns(SUBDOMAIN_ZONE)
    result = _eval(dns, "billing-alerts.example.com")
    assert result.policy == "reject"
    assert result.applied_policy == "reject"
    assert "np=reject" in result.reason.message
    looked = {rdtype for name, rdtype in dns.calls if name == "billing-alerts.example.com"}
    assert looked == {"A", "AAAA", "MX"}


def test_sp_absent_falls_back_to_p_and_np_to_sp() -> None:
    """Without sp the subdomain gets p; without np a missing subdomain gets sp."""
    only_p = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=quarantine"]}}
    assert _eval(only_p, "ghost.example.com").policy == "quarantine"
    with_sp = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; sp=none"]}}
    assert _eval(with_sp, "ghost.example.com").policy == "none"


def test_np_needs_no_existence_lookup_when_it_cannot_matter() -> None:
    """When np equals the subdomain policy, or on a pass, no A/AAAA/MX lookups are made."""
    dns = InMemoryDns({"_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; np=reject"]}})
    _eval(dns, "x.example.com")
    _eval(dns, "y.example.com", dkim=("example.com",))
    assert all(rdtype == "TXT" for _name, rdtype in dns.calls)


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_existence_lookup_failure_is_temperror(how: str) -> None:
    """If whether the subdomain exists cannot be found out, the result is temperror."""
    dns = InMemoryDns(SUBDOMAIN_ZONE)
    dns.fail("ghost.example.com", how)
    result = _eval(dns, "ghost.example.com")
    assert result.result == "temperror"
    assert result.applied_policy is None


# --- tree walk and the PSL -------------------------------------------------------------------


def test_tree_walk_finds_the_organizational_record_above_intermediate_names() -> None:
    """From a.b.mail.example.com the walk queries each parent and uses example.com's record."""
    dns = InMemoryDns({"_dmarc.example.com": {"TXT": [REJECT]}})
    result = _eval(dns, "a.b.mail.example.com", discovery="rfc9989")
    assert result.policy_domain == "example.com"
    queried = [name for name, _ in dns.calls]
    assert queried == [
        "_dmarc.a.b.mail.example.com",
        "_dmarc.b.mail.example.com",
        "_dmarc.mail.example.com",
        "_dmarc.example.com",
        "_dmarc.com",
    ]


def test_tree_walk_of_a_long_name_makes_at_most_eight_queries() -> None:
    """An Author Domain of 12 labels is walked with 8 queries: itself, then 7 labels and up."""
    dns = InMemoryDns({})
    _eval(dns, "a.b.c.d.e.f.g.h.i.j.mail.example.com")
    assert [name for name, _ in dns.calls] == [
        "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com",
        "_dmarc.g.h.i.j.mail.example.com",
        "_dmarc.h.i.j.mail.example.com",
        "_dmarc.i.j.mail.example.com",
        "_dmarc.j.mail.example.com",
        "_dmarc.mail.example.com",
        "_dmarc.example.com",
        "_dmarc.com",
    ]


def test_psd_policy_applies_when_the_domain_publishes_none() -> None:
    """A public suffix operator's psd=y record covers registrants without their own record."""
    zone = {"_dmarc.bank": {"TXT": ["v=DMARC1; p=reject; psd=y"]}}
    result = _eval(zone, "mybank.bank", psl=None)
    assert result.result == "fail"
    assert result.policy_domain == "bank"
    assert result.applied_policy == "reject"


def test_psd_y_makes_the_name_below_the_organizational_domain() -> None:
    """With psd=y at the TLD, example.com is the org domain: its subdomains align, siblings do not."""
    zone = {"_dmarc.com": {"TXT": ["v=DMARC1; p=reject; psd=y"]}}
    dns = InMemoryDns(zone)
    assert organizational_domain("a.mail.example.com", dns, psl=None) == "example.com"
    assert _eval(zone, "mail.example.com", dkim=("news.example.com",), psl=None).result == "pass"
    assert _eval(zone, "mail.example.com", dkim=("other.com",), psl=None).result == "fail"


def test_psd_n_splits_an_organization() -> None:
    """psd=n on a department subdomain makes it its own org domain: the parent no longer aligns."""
    zone = {
        "_dmarc.example.com": {"TXT": ["v=DMARC1; p=none"]},
        "_dmarc.hr.example.com": {"TXT": ["v=DMARC1; p=reject; psd=n"]},
    }
    dns = InMemoryDns(zone)
    assert organizational_domain("jobs.hr.example.com", dns) == "hr.example.com"
    assert _eval(zone, "hr.example.com", dkim=("example.com",)).result == "fail"
    assert _eval(zone, "hr.example.com", dkim=("jobs.hr.example.com",)).result == "pass"


def test_walk_uses_the_org_record_not_an_intermediate_one() -> None:
    """Records at mail.example.com and example.com: the org domain is example.com (fewest labels)."""
    zone = {
        "_dmarc.mail.example.com": {"TXT": ["v=DMARC1; p=none"]},
        "_dmarc.example.com": {"TXT": [REJECT]},
    }
    result = _eval(zone, "a.mail.example.com")
    assert result.policy_domain == "example.com"
    assert result.policy == "reject"


def test_psl_narrows_a_suffix_that_publishes_a_record() -> None:
    """A record at co.uk without psd=y must not make two registrants aligned; the PSL prevents it."""
    zone = {"_dmarc.co.uk": {"TXT": ["v=DMARC1; p=quarantine"]}}
    guarded = _eval(zone, "shop-one.co.uk", dkim=("shop-two.co.uk",))
    assert guarded.result == "fail"
    assert guarded.policy == "quarantine"  # the walk's policy still applies
    pure = _eval(zone, "shop-one.co.uk", dkim=("shop-two.co.uk",), psl=None)
    assert pure.result == "pass"  # pure RFC 9989 would align them


def test_rfc7489_discovery_asks_only_author_and_registrable_domain() -> None:
    """The RFC 7489 mode queries the From domain, then the PSL organizational domain, no more."""
    dns = InMemoryDns({"_dmarc.example.co.uk": {"TXT": [REJECT]}})
    result = _eval(dns, "a.b.example.co.uk", discovery="rfc7489")
    assert result.policy_domain == "example.co.uk"
    assert [name for name, _ in dns.calls] == ["_dmarc.a.b.example.co.uk", "_dmarc.example.co.uk"]


def test_organizational_domain_rejects_non_domains_and_surfaces_dns_failures() -> None:
    """organizational_domain raises typed errors for bad input and DNS trouble."""
    with pytest.raises(InvalidValueError):
        organizational_domain("not a domain", InMemoryDns({}))
    with pytest.raises(DnsTemporaryError):
        organizational_domain("x.example.com", InMemoryDns({"_dmarc.example.com": "SERVFAIL"}))


# --- multiple records ------------------------------------------------------------------------


def test_multiple_records_are_discarded() -> None:
    """Two DMARC records at one name are both discarded: no policy, and the reason says so."""
    zone = {"_dmarc.twice.example": {"TXT": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]}}
    result = _eval(zone, "twice.example")
    assert result.result == "none"
    assert result.reason.code == "dmarc.multiple_records"


def test_multiple_records_at_subdomain_fall_through_to_org_policy() -> None:
    """Discarded duplicates at the From domain let the organizational record apply."""
    zone = {
        "_dmarc.mail.example.com": {"TXT": ["v=DMARC1; p=none", "v=DMARC1; p=none; adkim=s"]},
        "_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject"]},
        "mail.example.com": {"A": ["192.0.2.1"]},
    }
    result = _eval(zone, "mail.example.com")
    assert result.policy_domain == "example.com"
    assert result.applied_policy == "reject"


def test_non_dmarc_txt_beside_the_record_is_ignored() -> None:
    """An SPF record published at _dmarc by mistake does not make the real record a duplicate."""
    zone = {"_dmarc.example.com": {"TXT": ["v=spf1 -all", REJECT]}}
    assert _eval(zone, "example.com").policy == "reject"


# --- pct and t -------------------------------------------------------------------------------


def test_pct_sampling_is_deterministic_and_lowers_one_level_outside_the_sample() -> None:
    """pct=20: a sample under 0.2 gets reject; above, quarantine and sampled_out is set."""
    zone = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; pct=20"]}}
    inside = _eval(zone, "example.com", sample=0.1)
    outside = _eval(zone, "example.com", sample=0.5)
    assert (inside.applied_policy, inside.sampled_out) == ("reject", False)
    assert (outside.applied_policy, outside.sampled_out) == ("quarantine", True)
    assert outside.policy == "reject"
    assert "pct=20" in outside.reason.message
    assert _eval(zone, "example.com").applied_policy == "reject"  # no sample: full policy


def test_pct_zero_quarantine_becomes_none() -> None:
    """pct=0 with quarantine: every sampled message gets none."""
    zone = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=quarantine; pct=0"]}}
    assert _eval(zone, "example.com", sample=0.0).applied_policy == "none"


def test_sampling_value_is_stable_and_in_range() -> None:
    """The same message hash always gives the same value in [0, 1)."""
    value = sampling_value("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    assert value == sampling_value(
        b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )
    assert 0.0 <= value < 1.0
    assert sampling_value("a") != sampling_value("b")


@pytest.mark.parametrize(
    ("policy", "applied"), [("reject", "quarantine"), ("quarantine", "none"), ("none", "none")]
)
def test_testing_flag_applies_one_level_lower(policy: str, applied: str) -> None:
    """t=y: reject is applied as quarantine, quarantine as none (RFC 9989)."""
    zone = {"_dmarc.example.com": {"TXT": [f"v=DMARC1; p={policy}; t=y"]}}
    result = _eval(zone, "example.com")
    assert result.policy == policy
    assert result.applied_policy == applied
    assert result.testing


# --- DNS failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_failure_on_the_from_domain_lookup_is_temperror(how: str) -> None:
    """The From domain's own _dmarc lookup failing is temperror, never none."""
    result = _eval({"_dmarc.example.com": how}, "example.com")
    assert result.result == "temperror"
    assert result.reason.code == "dmarc.dns_temporary"


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
@pytest.mark.parametrize("failing", ["_dmarc.mail.example.com", "_dmarc.example.com", "_dmarc.com"])
def test_failure_anywhere_on_the_walk_is_temperror(how: str, failing: str) -> None:
    """Any lookup of the walk failing, with no own record, is temperror: the policy is unknown."""
    result = _eval({failing: how}, "a.mail.example.com")
    assert result.result == "temperror"


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_own_record_survives_a_failure_higher_up(how: str) -> None:
    """With its own record, exact alignment passes and a failure at _dmarc.com cannot hide p=reject."""
    zone = {"_dmarc.example.com": {"TXT": [REJECT]}, "_dmarc.com": how}
    assert _eval(zone, "example.com", dkim=("example.com",)).result == "pass"
    # pure RFC 9989: relaxed alignment needs the walk, which failed: temperror, not fail or none
    relaxed = _eval(zone, "example.com", dkim=("mail.example.com",), psl=None)
    assert relaxed.result == "temperror"
    # with the PSL, nothing above example.com can change its organizational domain
    assert _eval(zone, "example.com", dkim=("mail.example.com",)).result == "pass"


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_failure_on_an_identifier_walk_is_temperror_unless_another_aligns(how: str) -> None:
    """An unresolvable alignment is temperror, but another aligned identifier still passes."""
    zone = {"_dmarc.example.com": {"TXT": [REJECT]}, "_dmarc.bounce.example.com": how}
    assert _eval(zone, "example.com", spf=_spf("bounce.example.com")).result == "temperror"
    both = _eval(zone, "example.com", spf=_spf("bounce.example.com"), dkim=("example.com",))
    assert both.result == "pass"


# --- several From domains --------------------------------------------------------------------


def test_several_from_domains_take_the_strictest() -> None:
    """From: a p=none domain (passing) and a p=reject domain (failing): reject stands."""
    zone = {
        "_dmarc.friendly.example": {"TXT": ["v=DMARC1; p=none"]},
        "_dmarc.bank.example": {"TXT": [REJECT]},
    }
    result = _eval(zone, ["friendly.example", "bank.example"], dkim=("friendly.example",))
    assert result.result == "fail"
    assert result.from_domain == "bank.example"
    assert result.applied_policy == "reject"
    assert result.from_domains == ("friendly.example", "bank.example")
    assert "2 From domains" in result.reason.message


def test_invalid_extra_from_domain_does_not_hide_a_reject() -> None:
    """Adding an unusable second From address cannot dodge the first domain's p=reject."""
    zone = {"_dmarc.bank.example": {"TXT": [REJECT]}}
    result = _eval(zone, ["bank.example", "no such domain"])
    assert result.result == "fail"
    assert result.applied_policy == "reject"


def test_temperror_outranks_a_harmless_failure() -> None:
    """A p=none failure beside a DNS failure reports temperror: the unknown might be a reject."""
    zone = {"_dmarc.news.example": {"TXT": ["v=DMARC1; p=none"]}, "_dmarc.flaky.example": "TIMEOUT"}
    assert _eval(zone, ["news.example", "flaky.example"]).result == "temperror"


# --- never crashes ---------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    """Any TXT text parses to a record or None."""
    parse_dmarc_record(text)
    parse_dmarc_record("v=DMARC1;" + text)


@settings(max_examples=60, deadline=None)
@given(
    record=st.text(max_size=60),
    from_domain=st.text(max_size=30),
    dkim=st.lists(st.text(max_size=20), max_size=3),
    sample=st.none() | st.floats(min_value=0, max_value=0.999),
)
def test_evaluate_never_raises(
    record: str, from_domain: str, dkim: list[str], sample: float | None
) -> None:
    """Whatever the record, From domain and DKIM domains, a valid result comes back."""
    dns = InMemoryDns({"_dmarc.example.com": {"TXT": ["v=DMARC1;" + record]}})
    for domain in (from_domain, "example.com", "sub.example.com"):
        result = evaluate_dmarc(
            from_domains=[domain], spf=None, dkim_pass_domains=dkim, dns=dns, sample=sample
        )
        assert result.result in DMARC_RESULTS


def test_psl_keeps_a_suffix_record_from_displacing_the_domain_policy() -> None:
    """A psd-less record at co.uk does not replace example.co.uk's reject for its subdomains."""
    zone = {
        "_dmarc.co.uk": {"TXT": ["v=DMARC1; p=none"]},
        "_dmarc.example.co.uk": {"TXT": [REJECT]},
        "mail.example.co.uk": {"A": ["192.0.2.1"]},
    }
    guarded = _eval(zone, "mail.example.co.uk")
    assert (guarded.policy_domain, guarded.applied_policy) == ("example.co.uk", "reject")
    pure = _eval(zone, "mail.example.co.uk", psl=None)
    assert (pure.policy_domain, pure.applied_policy) == ("co.uk", "none")


@pytest.mark.parametrize("how", ["SERVFAIL", "TIMEOUT"])
def test_failure_above_the_registrable_domain_cannot_matter_with_the_psl(how: str) -> None:
    """A dead _dmarc.com after example.com's record is harmless under the PSL, fatal without it."""
    zone = {
        "_dmarc.example.com": {"TXT": [REJECT]},
        "_dmarc.com": how,
        "mail.example.com": {"A": ["192.0.2.1"]},
    }
    guarded = _eval(zone, "mail.example.com", dkim=("news.example.com",))
    assert guarded.result == "pass"
    failed = _eval(zone, "mail.example.com")
    assert (failed.result, failed.applied_policy) == ("fail", "reject")
    assert _eval(zone, "mail.example.com", psl=None).result == "temperror"
    # below the registrable domain, a failure still matters
    dead_below = {"_dmarc.example.com": {"TXT": [REJECT]}, "_dmarc.mail.example.com": how}
    assert _eval(dead_below, "a.mail.example.com").result == "temperror"
