"""Signatures of requests and callbacks: what verify accepts and what it rejects, with which message."""

from __future__ import annotations

import time

import pytest

from integrations import signing

BODY = b'{"event_id":"e-1"}'
PATH = "/callbacks/sms"


def test_signed_request_verifies() -> None:
    headers = signing.signed_headers("key-1", "secret", "post", PATH, BODY)
    signing.verify(headers, "secret", "POST", PATH, BODY)
    assert headers[signing.KEY_HEADER] == "key-1"
    assert len(headers[signing.NONCE_HEADER]) == 32


def test_header_names_case_insensitive() -> None:
    headers = signing.signed_headers("key-1", "secret", "POST", PATH, BODY)
    signing.verify({name.lower(): value for name, value in headers.items()}, "secret", "POST", PATH, BODY)
    # The hex signature may come in capitals; the other values are signed as they are.
    shouted = {name.upper(): value for name, value in headers.items()}
    shouted[signing.SIGNATURE_HEADER.upper()] = headers[signing.SIGNATURE_HEADER].upper()
    signing.verify(shouted, "secret", "POST", PATH, BODY)


@pytest.mark.parametrize(("secret", "method", "path", "body"), [
    ("other", "POST", PATH, BODY),
    ("secret", "PUT", PATH, BODY),
    ("secret", "POST", "/callbacks/identity_check", BODY),
    ("secret", "POST", PATH, BODY + b" "),
])
def test_changed_request_rejected(secret: str, method: str, path: str, body: bytes) -> None:
    headers = signing.signed_headers("key-1", "secret", "POST", PATH, BODY)
    with pytest.raises(signing.SignatureRejected) as raised:
        signing.verify(headers, secret, method, path, body)
    assert raised.value.en == "The callback's signature does not match"
    assert raised.value.status == 401


@pytest.mark.parametrize("missing", [signing.TIMESTAMP_HEADER, signing.NONCE_HEADER, signing.SIGNATURE_HEADER])
def test_unsigned_rejected(missing: str) -> None:
    headers = signing.signed_headers("key-1", "secret", "POST", PATH, BODY)
    del headers[missing]
    with pytest.raises(signing.SignatureRejected) as raised:
        signing.verify(headers, "secret", "POST", PATH, BODY)
    assert (raised.value.en, raised.value.zh) == ("The callback is not signed", "回调缺少签名")


@pytest.mark.parametrize(("age", "accepted"), [(0, True), (299, True), (-299, True), (301, False), (-301, False), (86400, False)])
def test_replay_window(age: int, accepted: bool) -> None:
    now = time.time()
    headers = signing.signed_headers("key-1", "secret", "POST", PATH, BODY, now=now - age)
    if accepted:
        signing.verify(headers, "secret", "POST", PATH, BODY, now=now)
        return
    with pytest.raises(signing.SignatureRejected) as raised:
        signing.verify(headers, "secret", "POST", PATH, BODY, now=now)
    assert "more than 300 s from now" in raised.value.en


def test_timestamp_not_a_number_rejected() -> None:
    headers = signing.signed_headers("key-1", "secret", "POST", PATH, BODY)
    timestamp, nonce = "-17", headers[signing.NONCE_HEADER]
    headers[signing.TIMESTAMP_HEADER] = timestamp
    headers[signing.SIGNATURE_HEADER] = signing.signature("secret", "POST", PATH, timestamp, nonce, BODY)
    with pytest.raises(signing.SignatureRejected):
        signing.verify(headers, "secret", "POST", PATH, BODY)
