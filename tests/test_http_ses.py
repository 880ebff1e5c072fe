"""Amazon SES through SNS: messages signed with a certificate made here, served by an injected
fetch, beside their forged twins (another key, another topic, a certificate from elsewhere,
stale, replayed), and the subscription handshake."""

from __future__ import annotations

import base64
import functools
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from inboxcore import Conversation
from inboxcore.adapters.sns_http import fetch_sns_url, is_sns_url
from inboxcore.entrypoints._http_sns import string_to_sign
from inboxcore.entrypoints.http_intake import HttpAnswer, HttpIntake, HttpRequest, Provider
from inboxcore.testing import InMemoryDns
from tests.http_support import ADDRESS, NOW, RAW, make_inbox

TOPIC = "arn:aws:sns:eu-west-1:123456789012:inbound-mail"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789.pem"
SUBSCRIBE_URL = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t0k"


@functools.cache
def signing_key(name: str = "sns") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class FakeSns:
    """The injected fetch: serves the certificate, records every URL asked for."""

    def __init__(self, pem: bytes | None = None, fail: bool = False) -> None:
        self.pem = pem if pem is not None else certificate_pem(signing_key())
        self.fail, self.fetched = fail, list[str]()

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if self.fail:
            raise OSError("SNS is unreachable")
        return self.pem if url.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"


def ses_notification(raw: bytes = RAW, *, to: str = ADDRESS, base64_content: bool = True) -> str:
    content = base64.b64encode(raw).decode() if base64_content else raw.decode()
    encoding = "BASE64" if base64_content else "UTF8"
    return json.dumps(
        {
            "notificationType": "Received",
            "mail": {"source": "ada@customer.example", "destination": ["support@acme.example"]},
            "receipt": {
                "recipients": [to],
                "action": {"type": "SNS", "topicArn": TOPIC, "encoding": encoding},
            },
            "content": content,
        }
    )


def signed(
    message: dict[str, Any],
    *,
    key: rsa.RSAPrivateKey | None = None,
    version: str = "2",
) -> dict[str, Any]:
    message = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = (key or signing_key()).sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(message_id: str = "m-1", **options: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": ses_notification(**options),
        "Timestamp": NOW.isoformat().replace("+00:00", ".000Z"),
    }


def ses_intake(fetch: FakeSns | None = None) -> tuple[HttpIntake, Any, Any, FakeSns]:
    inbox, storage, raw_store = make_inbox()
    fetch = fetch or FakeSns()
    intake = HttpIntake(inbox, provider=Provider.SES, secret=TOPIC, sns_fetch=fetch)
    return intake, storage, raw_store, fetch


def post(intake: HttpIntake, message: dict[str, Any]) -> HttpAnswer:
    body = json.dumps(message).encode()
    headers = [
        ("Content-Type", "text/plain; charset=UTF-8"),
        ("Content-Length", str(len(body))),
        ("x-amz-sns-message-type", str(message.get("Type"))),
    ]
    return intake.handle(
        HttpRequest(method="POST", path="/inbound/ses", headers=headers, body=body)
    )


def answer_of(answer: HttpAnswer) -> dict[str, Any]:
    data = answer.json()
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_ses_notification_is_received_byte_for_byte(version: str) -> None:
    intake, storage, raw_store, fetch = ses_intake()
    answer = post(intake, signed(notification(), version=version))
    assert (answer.status, answer_of(answer)["verdict"]) == (200, "accepted")
    assert raw_store.get(answer_of(answer)["raw_id"]) == RAW
    assert len(storage.records(Conversation)) == 1
    assert fetch.fetched == [CERT_URL]


def test_the_certificate_is_fetched_once() -> None:
    intake, _, _, fetch = ses_intake()
    post(intake, signed(notification("m-1")))
    post(intake, signed(notification("m-2", raw=RAW.replace(b"<m1@", b"<m2@"))))
    assert fetch.fetched == [CERT_URL]


def test_utf8_content_is_received() -> None:
    intake, _, raw_store, _ = ses_intake()
    answer = post(intake, signed(notification(base64_content=False)))
    assert raw_store.get(answer_of(answer)["raw_id"]) == RAW


def test_a_message_signed_with_another_key_is_forbidden() -> None:
    intake, storage, _, _ = ses_intake()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    answer = post(intake, signed(notification(), key=other))
    assert (answer.status, answer_of(answer)["error"]) == (403, "bad_signature")
    assert storage.records(Conversation) == ()


def test_a_tampered_message_is_forbidden() -> None:
    intake, _, _, _ = ses_intake()
    message = signed(notification())
    message["Message"] = ses_notification(to="someone-else@acme.inbox.example.net")
    assert answer_of(post(intake, message))["error"] == "bad_signature"


def test_a_genuine_message_of_another_topic_is_forbidden() -> None:
    """SNS signs every topic's messages with the same certificates: the topic decides."""
    intake, _, _, _ = ses_intake()
    message = signed({**notification(), "TopicArn": "arn:aws:sns:eu-west-1:999:theirs"})
    answer = post(intake, message)
    assert (answer.status, answer_of(answer)["error"]) == (403, "unexpected_topic")


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
        "https://s3.amazonaws.com/cert.pem",
    ],
)
def test_a_certificate_from_anywhere_but_sns_is_never_fetched(url: str) -> None:
    intake, _, _, fetch = ses_intake()
    message = signed(notification())
    message["SigningCertURL"] = url
    answer = post(intake, message)
    assert (answer.status, answer_of(answer)["error"]) == (403, "bad_signature")
    assert fetch.fetched == []
    assert not is_sns_url(url)


def test_an_unknown_signature_version_is_forbidden() -> None:
    intake, _, _, fetch = ses_intake()
    message = {**signed(notification()), "SignatureVersion": "3"}
    assert answer_of(post(intake, message))["error"] == "bad_signature"
    assert fetch.fetched == []


def test_a_stale_message_is_forbidden() -> None:
    intake, _, _, _ = ses_intake()
    old = (NOW - timedelta(minutes=11)).isoformat().replace("+00:00", "Z")
    answer = post(intake, signed({**notification(), "Timestamp": old}))
    assert (answer.status, answer_of(answer)["error"]) == (403, "stale_timestamp")


def test_a_replayed_message_is_forbidden_and_recorded_once() -> None:
    intake, storage, _, _ = ses_intake()
    message = signed(notification())
    assert post(intake, message).status == 200
    again = post(intake, message)
    assert (again.status, answer_of(again)["error"]) == (403, "replayed_token")
    assert len(storage.records(Conversation)) == 1


def test_sns_unreachable_is_a_503_so_that_sns_retries() -> None:
    intake, storage, _, _ = ses_intake(FakeSns(fail=True))
    answer = post(intake, signed(notification()))
    assert (answer.status, answer_of(answer)["error"]) == (503, "check_failed")
    assert "retry-after" in dict(answer.headers)
    assert storage.intake_records() == ()


def test_a_certificate_that_is_not_rsa_is_a_503_and_nothing_stored() -> None:
    pem = certificate_pem(ec.generate_private_key(ec.SECP256R1()))
    intake, storage, _, _ = ses_intake(FakeSns(pem=pem))
    assert post(intake, signed(notification())).status == 503
    assert storage.intake_records() == ()


def test_dns_failing_keeps_the_message_for_a_recheck() -> None:
    """SNS retries for about a minute: a DNS failure quarantines the message for a recheck
    (``*.temperror``) rather than asking SNS to retry and losing it when SNS gives up."""
    dns = InMemoryDns({})
    inbox, storage, _ = make_inbox(dns=dns)
    intake = HttpIntake(inbox, provider=Provider.SES, secret=TOPIC, sns_fetch=FakeSns())
    dns.fail("_dmarc.customer.example")
    answer = post(intake, signed(notification()))
    assert (answer.status, answer_of(answer)["verdict"]) == (200, "quarantined")
    assert answer_of(answer)["reasons"] == ["dmarc.temperror"]
    assert len(storage.intake_records()) == 1


def test_a_rejection_is_a_200_with_the_verdict() -> None:
    intake, _, _, _ = ses_intake()
    answer = post(intake, signed(notification(to="nobody@acme.inbox.example.net")))
    assert (answer.status, answer_of(answer)["verdict"]) == (200, "rejected")


def test_a_notification_without_content_asks_for_the_sns_action() -> None:
    intake, _, _, _ = ses_intake()
    message = notification()
    message["Message"] = json.dumps({"notificationType": "Received", "receipt": {}})
    answer = post(intake, signed(message))
    assert (answer.status, answer_of(answer)["error"]) == (400, "no_raw_message")


def subscription(subscribe_url: str = SUBSCRIBE_URL) -> dict[str, Any]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "s-1",
        "Token": "t0k",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": subscribe_url,
        "Timestamp": NOW.isoformat().replace("+00:00", "Z"),
    }


def test_a_signed_subscription_confirmation_is_confirmed() -> None:
    intake, _, _, fetch = ses_intake()
    answer = post(intake, signed(subscription()))
    assert (answer.status, answer_of(answer)["acknowledged"]) == (200, "subscription_confirmed")
    assert fetch.fetched == [CERT_URL, SUBSCRIBE_URL]


def test_a_subscription_to_a_url_off_sns_is_refused_and_not_visited() -> None:
    intake, _, _, fetch = ses_intake()
    answer = post(intake, signed(subscription("https://evil.example/confirm")))
    assert (answer.status, answer_of(answer)["error"]) == (403, "bad_subscribe_url")
    assert fetch.fetched == [CERT_URL]


def test_a_forged_subscription_is_not_confirmed() -> None:
    intake, _, _, fetch = ses_intake()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert post(intake, signed(subscription(), key=other)).status == 403
    assert SUBSCRIBE_URL not in fetch.fetched


@pytest.mark.parametrize("body", [b"{not json", b"[]"])
def test_a_body_that_is_not_an_sns_message_is_a_400(body: bytes) -> None:
    intake, _, _, _ = ses_intake()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    answer = intake.handle(HttpRequest(method="POST", path="/", headers=headers, body=body))
    assert answer.status == 400


def test_the_default_fetch_refuses_any_url_but_sns_without_connecting() -> None:
    with pytest.raises(ValueError, match="not an Amazon SNS URL"):
        fetch_sns_url("https://evil.example/cert.pem")
    assert is_sns_url(CERT_URL)
    assert is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/cert.pem")
