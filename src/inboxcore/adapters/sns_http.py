"""Fetching from Amazon SNS over HTTPS: the default way the inbound HTTP intake gets SNS signing
certificates and confirms subscriptions (:mod:`inboxcore.entrypoints.http_intake`,
provider ``ses``).

Only ``https://sns.<region>.amazonaws.com/...`` is fetched (the intake checks it too): the
certificate is trusted because TLS proved the host is Amazon SNS's.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
import urllib.request

__all__ = ["MAX_RESPONSE_BYTES", "fetch_sns_url", "is_sns_url"]

MAX_RESPONSE_BYTES = 64 * 1024
"""A certificate or a confirmation answer is a few kilobytes; more is not SNS."""

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def is_sns_url(url: str) -> bool:
    """Whether ``url`` is HTTPS on an SNS host (``sns.<region>.amazonaws.com``, or ``.com.cn``),
    with no user and no other port: the only place a certificate or a confirmation comes from."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and port in (None, 443)
        and _SNS_HOST.match(parts.hostname or "") is not None
    )


def fetch_sns_url(url: str, *, timeout: float = 10.0) -> bytes:
    """GET ``url`` (HTTPS on an SNS host only, certificate verified) and return its body.

    Raises ValueError for any other URL or an oversize answer, and ``OSError``
    (``urllib.error.URLError``) when it cannot be fetched.
    """
    if not is_sns_url(url):
        raise ValueError(f"not an Amazon SNS URL: {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "inboxcore"})
    context = ssl.create_default_context()
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ValueError(f"the answer of {url} is larger than {MAX_RESPONSE_BYTES} bytes")
    return body
