"""Tests of field encryption, blind indexes, key rotation and key loading."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from runtime.crypto import (
    ENCRYPTION_KEYS_VARIABLE,
    HASH_KEY_VARIABLE,
    KEY_FILE_NAME,
    DecryptionError,
    KeyRing,
    KeyRingError,
    blind_index,
    decrypt,
    encrypt,
    key_id_of,
    needs_rotation,
    reencrypt,
)

CONTEXT = "customer.phone"
KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(32, 64))).decode()
HASH_KEY = base64.b64encode(bytes(range(64, 96))).decode()
SHORT_KEY = base64.b64encode(bytes(16)).decode()


def env(keys: str = f"a:{KEY_A},b:{KEY_B}", hash_key: str = HASH_KEY) -> dict[str, str]:
    return {ENCRYPTION_KEYS_VARIABLE: keys, HASH_KEY_VARIABLE: hash_key}


def flip_last_byte(token: str) -> str:
    """Return the token with the last byte of its tag inverted, re-encoded as unpadded base64url."""
    version, key_id, data = token.split(":")
    raw = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    raw[-1] ^= 0xFF
    encoded = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    return f"{version}:{key_id}:{encoded}"


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


# Encryption and decryption


@pytest.mark.parametrize("plaintext", ["13800138000", "张三 北京市朝阳区", ""])
def test_round_trip(ring: KeyRing, plaintext: str) -> None:
    token = encrypt(ring, plaintext, context=CONTEXT)
    assert decrypt(ring, token, context=CONTEXT) == plaintext


def test_token_format(ring: KeyRing) -> None:
    token = encrypt(ring, "x", context=CONTEXT)
    assert token.startswith("v1:k1:")


def test_token_hides_plaintext(ring: KeyRing) -> None:
    token = encrypt(ring, "13800138000", context=CONTEXT)
    assert "13800138000" not in token


def test_tokens_differ_per_encryption(ring: KeyRing) -> None:
    first = encrypt(ring, "same", context=CONTEXT)
    second = encrypt(ring, "same", context=CONTEXT)
    assert first != second


def test_wrong_context_fails(ring: KeyRing) -> None:
    token = encrypt(ring, "secret", context="customer.phone")
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(ring, token, context="customer.email")


def test_tampered_ciphertext_fails(ring: KeyRing) -> None:
    token = encrypt(ring, "secret", context=CONTEXT)
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(ring, flip_last_byte(token), context=CONTEXT)


def test_unknown_key_id_fails(ring: KeyRing) -> None:
    token = encrypt(KeyRing.generate("k9"), "secret", context=CONTEXT)
    with pytest.raises(DecryptionError, match="'k9', which is not in the key ring"):
        decrypt(ring, token, context=CONTEXT)


def test_same_id_other_key_fails(ring: KeyRing) -> None:
    token = encrypt(KeyRing.generate(), "secret", context=CONTEXT)
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(ring, token, context=CONTEXT)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("plain value", "found 1 part"),
        ("v1:k1", "found 2 part"),
        ("v2:k1:AAAA", "does not start with 'v1:'"),
        ("v1::AAAA", "key id is empty"),
        ("v1:k 1:AAAA", "characters other than"),
        ("v1:k1:AA+/", "not valid base64url"),
        ("v1:k1:A", "not valid base64url"),
        ("v1:k1:AAAA", "shorter than"),
    ],
)
def test_malformed_token_fails(ring: KeyRing, token: str, problem: str) -> None:
    with pytest.raises(DecryptionError, match=problem):
        decrypt(ring, token, context=CONTEXT)


def test_error_omits_token_parts(ring: KeyRing) -> None:
    with pytest.raises(DecryptionError) as caught:
        decrypt(ring, "vip:13800138000:note", context=CONTEXT)
    assert "13800138000" not in str(caught.value)


def test_empty_context_rejected(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="context must be a non-empty string"):
        encrypt(ring, "x", context="")


def test_key_id_of(ring: KeyRing) -> None:
    token = encrypt(ring, "x", context=CONTEXT)
    assert key_id_of(token) == "k1"


def test_key_id_of_malformed() -> None:
    with pytest.raises(DecryptionError, match="malformed token"):
        key_id_of("not a token")


# Blind indexes


def test_blind_index_equal(ring: KeyRing) -> None:
    first = blind_index(ring, "13800138000", context=CONTEXT)
    second = blind_index(ring, "13800138000", context=CONTEXT)
    assert first == second


def test_blind_index_is_hex_sha256(ring: KeyRing) -> None:
    index = blind_index(ring, "13800138000", context=CONTEXT)
    assert len(index) == 64
    assert set(index) <= set("0123456789abcdef")


def test_blind_index_hides_value(ring: KeyRing) -> None:
    index = blind_index(ring, "13800138000", context=CONTEXT)
    assert "13800138000" not in index


def test_blind_index_differs_by_value(ring: KeyRing) -> None:
    first = blind_index(ring, "13800138000", context=CONTEXT)
    second = blind_index(ring, "13800138001", context=CONTEXT)
    assert first != second


def test_blind_index_differs_by_context(ring: KeyRing) -> None:
    first = blind_index(ring, "13800138000", context="customer.phone")
    second = blind_index(ring, "13800138000", context="supplier.phone")
    assert first != second


def test_blind_index_context_boundary(ring: KeyRing) -> None:
    first = blind_index(ring, "bc", context="a")
    second = blind_index(ring, "c", context="ab")
    assert first != second


def test_blind_index_differs_by_ring(ring: KeyRing) -> None:
    first = blind_index(ring, "13800138000", context=CONTEXT)
    second = blind_index(KeyRing.generate(), "13800138000", context=CONTEXT)
    assert first != second


# Rotation


def test_rotation_sets_current_key(ring: KeyRing) -> None:
    rotated = ring.with_new_current_key()
    assert rotated.current_key_id == "k2"


def test_rotation_keeps_old_keys(ring: KeyRing) -> None:
    rotated = ring.with_new_current_key()
    assert rotated.key_ids == ("k2", "k1")


def test_rotation_leaves_original(ring: KeyRing) -> None:
    ring.with_new_current_key()
    assert ring.key_ids == ("k1",)


def test_rotation_named_key(ring: KeyRing) -> None:
    rotated = ring.with_new_current_key("2025-q1")
    assert rotated.current_key_id == "2025-q1"


def test_rotation_skips_taken_ids(ring: KeyRing) -> None:
    rotated = ring.with_new_current_key("k2").with_new_current_key()
    assert rotated.current_key_id == "k3"


def test_rotation_duplicate_id_rejected(ring: KeyRing) -> None:
    with pytest.raises(KeyRingError, match="'k1' is already in the key ring"):
        ring.with_new_current_key("k1")


def test_rotation_invalid_id_rejected(ring: KeyRing) -> None:
    with pytest.raises(KeyRingError, match="invalid key id 'k:2'"):
        ring.with_new_current_key("k:2")


def test_old_token_decrypts_after_rotation(ring: KeyRing) -> None:
    token = encrypt(ring, "张三", context=CONTEXT)
    rotated = ring.with_new_current_key()
    assert decrypt(rotated, token, context=CONTEXT) == "张三"


def test_old_token_needs_rotation(ring: KeyRing) -> None:
    token = encrypt(ring, "x", context=CONTEXT)
    rotated = ring.with_new_current_key()
    assert needs_rotation(rotated, token)


def test_new_token_needs_no_rotation(ring: KeyRing) -> None:
    rotated = ring.with_new_current_key()
    token = encrypt(rotated, "x", context=CONTEXT)
    assert not needs_rotation(rotated, token)


def test_new_token_uses_new_key(ring: KeyRing) -> None:
    rotated = ring.with_new_current_key()
    token = encrypt(rotated, "x", context=CONTEXT)
    assert key_id_of(token) == "k2"


def test_reencrypt_uses_current_key(ring: KeyRing) -> None:
    token = encrypt(ring, "x", context=CONTEXT)
    rotated = ring.with_new_current_key()
    assert key_id_of(reencrypt(rotated, token, context=CONTEXT)) == "k2"


def test_reencrypt_keeps_value(ring: KeyRing) -> None:
    token = encrypt(ring, "张三", context=CONTEXT)
    rotated = ring.with_new_current_key()
    new_token = reencrypt(rotated, token, context=CONTEXT)
    assert decrypt(rotated, new_token, context=CONTEXT) == "张三"


def test_reencrypt_wrong_context_fails(ring: KeyRing) -> None:
    token = encrypt(ring, "x", context="customer.phone")
    rotated = ring.with_new_current_key()
    with pytest.raises(DecryptionError, match="authentication failed"):
        reencrypt(rotated, token, context="customer.email")


def test_hash_key_survives_rotation(ring: KeyRing) -> None:
    before = blind_index(ring, "13800138000", context=CONTEXT)
    rotated = ring.with_new_current_key()
    assert blind_index(rotated, "13800138000", context=CONTEXT) == before


def test_repr_omits_key_material() -> None:
    ring = KeyRing.from_environment(env(), Path("unused"))
    assert repr(ring) == "KeyRing(current_key_id='a', key_ids=('a', 'b'))"


# Keys from environment variables


def test_environment_first_key_current(tmp_path: Path) -> None:
    ring = KeyRing.from_environment(env(), tmp_path)
    assert ring.current_key_id == "a"


def test_environment_key_ids(tmp_path: Path) -> None:
    ring = KeyRing.from_environment(env(), tmp_path)
    assert ring.key_ids == ("a", "b")


def test_environment_rings_agree(tmp_path: Path) -> None:
    token = encrypt(KeyRing.from_environment(env(), tmp_path), "张三", context=CONTEXT)
    other = KeyRing.from_environment(env(keys=f"b:{KEY_B}, a:{KEY_A}"), tmp_path)
    assert decrypt(other, token, context=CONTEXT) == "张三"


def test_environment_blind_index_stable(tmp_path: Path) -> None:
    first = KeyRing.from_environment(env(), tmp_path)
    second = KeyRing.from_environment(env(keys=f"c:{KEY_B}"), tmp_path)
    assert blind_index(first, "x", context=CONTEXT) == blind_index(second, "x", context=CONTEXT)


def test_environment_accepts_urlsafe_unpadded(tmp_path: Path) -> None:
    urlsafe = base64.urlsafe_b64encode(bytes([0xFB] * 32)).rstrip(b"=").decode()
    ring = KeyRing.from_environment(env(keys=f"a:{urlsafe}"), tmp_path)
    assert ring.key_ids == ("a",)


def test_environment_writes_no_file(tmp_path: Path) -> None:
    KeyRing.from_environment(env(), tmp_path)
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_environment_bad_base64(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{ENCRYPTION_KEYS_VARIABLE} key 'b' is not valid base64"):
        KeyRing.from_environment(env(keys=f"a:{KEY_A},b:not*base64"), tmp_path)


def test_environment_short_key(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=r"key 'a' decodes to 16 bytes, but it must be 32 bytes"):
        KeyRing.from_environment(env(keys=f"a:{SHORT_KEY}"), tmp_path)


def test_environment_error_omits_key(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_environment(env(keys=f"a:{SHORT_KEY}"), tmp_path)
    assert SHORT_KEY not in str(caught.value)


def test_environment_duplicate_id(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="lists key id 'a' more than once"):
        KeyRing.from_environment(env(keys=f"a:{KEY_A},a:{KEY_B}"), tmp_path)


def test_environment_empty_keys(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{ENCRYPTION_KEYS_VARIABLE} is empty"):
        KeyRing.from_environment(env(keys="  "), tmp_path)


def test_environment_empty_entry(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="entry 2 is empty; remove the extra comma"):
        KeyRing.from_environment(env(keys=f"a:{KEY_A},,b:{KEY_B}"), tmp_path)


def test_environment_entry_without_id(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="entry 1 has no ':'"):
        KeyRing.from_environment(env(keys=KEY_A), tmp_path)


def test_environment_invalid_id(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="entry 1 has an empty or invalid key id"):
        KeyRing.from_environment(env(keys=f"key one:{KEY_A}"), tmp_path)


def test_environment_empty_key(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="key 'a' is empty"):
        KeyRing.from_environment(env(keys="a:"), tmp_path)


def test_environment_bad_hash_key(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{HASH_KEY_VARIABLE} decodes to 16 bytes"):
        KeyRing.from_environment(env(hash_key=SHORT_KEY), tmp_path)


def test_environment_empty_hash_key(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{HASH_KEY_VARIABLE} is empty"):
        KeyRing.from_environment(env(hash_key=""), tmp_path)


def test_environment_hash_key_reused(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{HASH_KEY_VARIABLE} equals a key in {ENCRYPTION_KEYS_VARIABLE}"):
        KeyRing.from_environment(env(hash_key=KEY_B), tmp_path)


def test_environment_hash_key_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{ENCRYPTION_KEYS_VARIABLE} is set but {HASH_KEY_VARIABLE} is not"):
        KeyRing.from_environment({ENCRYPTION_KEYS_VARIABLE: f"a:{KEY_A}"}, tmp_path)


def test_environment_keys_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=f"{HASH_KEY_VARIABLE} is set but {ENCRYPTION_KEYS_VARIABLE} is not"):
        KeyRing.from_environment({HASH_KEY_VARIABLE: HASH_KEY}, tmp_path)


# Keys generated into keys.json


def test_default_creates_key_file(tmp_path: Path) -> None:
    KeyRing.from_environment({}, tmp_path / "data")
    assert (tmp_path / "data" / KEY_FILE_NAME).is_file()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_default_key_file_mode(tmp_path: Path) -> None:
    KeyRing.from_environment({}, tmp_path)
    mode = stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode)
    assert mode == 0o600


def test_default_leaves_no_temporary_file(tmp_path: Path) -> None:
    KeyRing.from_environment({}, tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [KEY_FILE_NAME]


def test_default_second_call_same_keys(tmp_path: Path) -> None:
    token = encrypt(KeyRing.from_environment({}, tmp_path), "张三", context=CONTEXT)
    again = KeyRing.from_environment({}, tmp_path)
    assert decrypt(again, token, context=CONTEXT) == "张三"


def test_default_second_call_same_hash_key(tmp_path: Path) -> None:
    first = KeyRing.from_environment({}, tmp_path)
    second = KeyRing.from_environment({}, tmp_path)
    assert blind_index(first, "x", context=CONTEXT) == blind_index(second, "x", context=CONTEXT)


def test_default_key_file_keeps_content(tmp_path: Path) -> None:
    KeyRing.from_environment({}, tmp_path)
    content = (tmp_path / KEY_FILE_NAME).read_bytes()
    KeyRing.from_environment({}, tmp_path)
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == content


def test_default_logs_generation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    KeyRing.from_environment({}, tmp_path)
    assert "Back this file up" in caplog.text


def test_environment_overrides_key_file(tmp_path: Path) -> None:
    KeyRing.from_environment({}, tmp_path)
    ring = KeyRing.from_environment(env(), tmp_path)
    assert ring.current_key_id == "a"


def test_saved_rotation_loads(tmp_path: Path) -> None:
    rotated = KeyRing.from_environment({}, tmp_path).with_new_current_key()
    rotated.save(tmp_path)
    assert KeyRing.from_environment({}, tmp_path).key_ids == ("k2", "k1")


def test_saved_rotation_keeps_hash_key(tmp_path: Path) -> None:
    ring = KeyRing.from_environment({}, tmp_path)
    before = blind_index(ring, "13800138000", context=CONTEXT)
    ring.with_new_current_key().save(tmp_path)
    reloaded = KeyRing.from_environment({}, tmp_path)
    assert blind_index(reloaded, "13800138000", context=CONTEXT) == before


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_save_key_file_mode(tmp_path: Path) -> None:
    path = KeyRing.generate().save(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_loose_key_file_mode_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = KeyRing.generate().save(tmp_path)
    path.chmod(0o644)
    KeyRing.from_environment({}, tmp_path)
    assert "chmod 600" in caplog.text


def test_invalid_key_file_json(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("{", encoding="utf-8")
    with pytest.raises(KeyRingError, match="is not valid UTF-8 JSON; restore"):
        KeyRing.from_environment({}, tmp_path)


def test_key_file_unknown_current_key(tmp_path: Path) -> None:
    path = KeyRing.generate().save(tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["current_key_id"] = "k7"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyRingError, match="current key id 'k7' is not in the key ring"):
        KeyRing.from_environment({}, tmp_path)


def test_key_file_missing_hash_key(tmp_path: Path) -> None:
    path = KeyRing.generate().save(tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    del document["hash_key"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyRingError, match="has no string 'hash_key'"):
        KeyRing.from_environment({}, tmp_path)
