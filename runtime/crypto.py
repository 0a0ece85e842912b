"""Encrypt field values at rest with AES-256-GCM, and compute blind indexes for exact-match search.

A field declared with `encrypted: true` is stored as a text token

    v1:<key id>:<base64url of nonce | ciphertext | tag>

and, beside it, a blind index: the hex HMAC-SHA256 of the normalized value. Equal values get
equal blind indexes, so that column can serve equality lookups and unique constraints while
the token column stays opaque.

Each value is encrypted with a fresh random 96-bit nonce. The `context` argument (usually
"table.column") is bound as associated data, so a token copied into another column fails to
decrypt, and it is also hashed into the blind index, so equal values in different columns
do not match. With random 96-bit nonces, NIST SP 800-38D allows at most 2**32
encryptions per key, so rotate keys long before that.

Keys come from the environment or, when nothing is configured, from `keys.json` in the data
directory, which is generated on first use. See `KeyRing.from_environment`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

logger = logging.getLogger(__name__)

#: Comma-separated `id:base64key` entries; the first entry is the current key.
ENCRYPTION_KEYS_VARIABLE = "METADESK_ENCRYPTION_KEYS"
#: The base64 key for blind indexes.
HASH_KEY_VARIABLE = "METADESK_HASH_KEY"
#: The file in the data directory that stores generated keys when the variables are unset.
KEY_FILE_NAME = "keys.json"

#: Size in bytes of every key: AES-256 keys and the HMAC-SHA256 key alike.
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
TOKEN_VERSION = "v1"

_KEY_FILE_FORMAT = 1
_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_BASE64URL_PATTERN = re.compile(r"[A-Za-z0-9_-]*")
_GENERATE_HINT = "generate a key with `openssl rand -base64 32`"


class KeyRingError(ValueError):
    """A key configuration that is missing, malformed or inconsistent."""


class DecryptionError(ValueError):
    """A token that is malformed, names a key the ring lacks, or fails authentication."""


class KeyRing:
    """Named 256-bit AES-GCM keys, one of them current, plus the 256-bit key for blind indexes.

    The current key encrypts new values, and every key in the ring decrypts. To rotate, add a
    new current key, keep the old ones until `reencrypt` has rewritten their tokens, then drop
    them. The hashing key never rotates: a new hashing key would change every blind index, so
    lookups and unique constraints would stop matching stored rows until all were recomputed.

    A ring is immutable, and its repr shows key ids but never key material.
    """

    __slots__ = ("_keys", "_current_key_id", "_hash_key", "_ciphers")

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str, hash_key: bytes) -> None:
        if not keys:
            raise KeyRingError("a key ring needs at least one encryption key")
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if len(key) != KEY_SIZE:
                raise KeyRingError(
                    f"encryption key {key_id!r} is {len(key)} bytes, but it must be {KEY_SIZE} bytes (256 bits)"
                )
        if current_key_id not in keys:
            raise KeyRingError(
                f"current key id {current_key_id!r} is not in the key ring, which has {_list_ids(keys)}"
            )
        if len(hash_key) != KEY_SIZE:
            raise KeyRingError(f"the hashing key is {len(hash_key)} bytes, but it must be {KEY_SIZE} bytes (256 bits)")
        if any(hmac.compare_digest(hash_key, key) for key in keys.values()):
            raise KeyRingError("the hashing key equals an encryption key, so use a separate random key for each")

        self._keys: Mapping[str, bytes] = MappingProxyType(dict(keys))
        self._current_key_id = current_key_id
        self._hash_key = hash_key
        self._ciphers: Mapping[str, AESGCM] = MappingProxyType(
            {key_id: AESGCM(key) for key_id, key in keys.items()}
        )

    @property
    def current_key_id(self) -> str:
        """Id of the key that encrypts new values."""
        return self._current_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of all keys that can decrypt, in the order they are stored."""
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(current_key_id={self._current_key_id!r}, key_ids={self.key_ids!r})"

    @classmethod
    def generate(cls, key_id: str = "k1") -> KeyRing:
        """Create a ring with one fresh random encryption key and a fresh hashing key."""
        return cls({key_id: AESGCM.generate_key(bit_length=256)}, key_id, secrets.token_bytes(KEY_SIZE))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], data_dir: Path) -> KeyRing:
        """Build the ring from the key variables, or from `data_dir/keys.json` when both are unset.

        `METADESK_ENCRYPTION_KEYS` lists `id:base64key` entries separated by commas, current key
        first. `METADESK_HASH_KEY` is one base64 key. Set both or neither. With neither set, keys
        are generated once into `keys.json` (mode 0600, directory created as needed) and read
        from it on later calls. That file must be backed up, because values encrypted with its
        keys cannot be decrypted without it. Raises KeyRingError for any invalid setting.
        """
        keys_text = environ.get(ENCRYPTION_KEYS_VARIABLE)
        hash_text = environ.get(HASH_KEY_VARIABLE)
        key_file = data_dir / KEY_FILE_NAME

        if keys_text is None and hash_text is None:
            return _load_or_create_key_file(key_file)
        if keys_text is None:
            raise KeyRingError(
                f"{HASH_KEY_VARIABLE} is set but {ENCRYPTION_KEYS_VARIABLE} is not; "
                f"set both, or unset both to use the keys in {key_file}"
            )
        if hash_text is None:
            raise KeyRingError(
                f"{ENCRYPTION_KEYS_VARIABLE} is set but {HASH_KEY_VARIABLE} is not; "
                f"set both, or unset both to use the keys in {key_file}"
            )

        keys = _parse_encryption_keys(keys_text)
        hash_key = _decode_key(hash_text, HASH_KEY_VARIABLE)
        if any(hmac.compare_digest(hash_key, key) for key in keys.values()):
            raise KeyRingError(
                f"{HASH_KEY_VARIABLE} equals a key in {ENCRYPTION_KEYS_VARIABLE}; "
                f"use a separate random key for hashing ({_GENERATE_HINT})"
            )
        return cls(keys, next(iter(keys)), hash_key)

    def with_new_current_key(self, key_id: str | None = None) -> KeyRing:
        """Return a new ring whose current key is freshly generated, keeping all old keys and the hashing key.

        Without `key_id`, the new id is `k<n>` with the smallest n above the number of keys
        that is not taken. Raises KeyRingError when `key_id` is invalid or already in the ring.
        """
        if key_id is None:
            key_id = self._next_key_id()
        else:
            _check_key_id(key_id)
        if key_id in self._keys:
            raise KeyRingError(f"key id {key_id!r} is already in the key ring, so choose a new id")

        keys = {key_id: AESGCM.generate_key(bit_length=256), **self._keys}
        return KeyRing(keys, key_id, self._hash_key)

    def save(self, data_dir: Path) -> Path:
        """Write the ring to `data_dir/keys.json` with mode 0600, replacing the file atomically, and return its path.

        This is for the file-backed default. When keys come from the environment, put a rotated
        ring back into the variables instead, because the variables take precedence over the file.
        """
        path = data_dir / KEY_FILE_NAME
        _write_private_file(path, self._to_json(), overwrite=True)
        return path

    def _next_key_id(self) -> str:
        number = len(self._keys) + 1
        while f"k{number}" in self._keys:
            number += 1
        return f"k{number}"

    def _to_json(self) -> str:
        document = {
            "format": _KEY_FILE_FORMAT,
            "current_key_id": self._current_key_id,
            "encryption_keys": {key_id: _encode_base64(key) for key_id, key in self._keys.items()},
            "hash_key": _encode_base64(self._hash_key),
        }
        return json.dumps(document, indent=2) + "\n"


def encrypt(ring: KeyRing, plaintext: str, *, context: str) -> str:
    """Encrypt `plaintext` under the ring's current key, bound to `context`, and return the token."""
    associated_data = _context_bytes(context)
    data = _utf8(plaintext, "plaintext")
    key_id = ring.current_key_id
    nonce = os.urandom(NONCE_SIZE)
    sealed = ring._ciphers[key_id].encrypt(nonce, data, associated_data)
    return f"{TOKEN_VERSION}:{key_id}:{_encode_base64url(nonce + sealed)}"


def decrypt(ring: KeyRing, token: str, *, context: str) -> str:
    """Decrypt a token made by `encrypt` with the same `context`.

    Raises DecryptionError when the token is malformed, its key is not in the ring, or
    authentication fails. The message never contains plaintext or key material.
    """
    associated_data = _context_bytes(context)
    key_id, payload = _parse_token(token)
    cipher = ring._ciphers.get(key_id)
    if cipher is None:
        raise DecryptionError(
            f"token was encrypted with key {key_id!r}, which is not in the key ring ({_list_ids(ring.key_ids)}); "
            f"add that key to {ENCRYPTION_KEYS_VARIABLE} or {KEY_FILE_NAME}"
        )

    nonce = payload[:NONCE_SIZE]
    sealed = payload[NONCE_SIZE:]
    try:
        data = cipher.decrypt(nonce, sealed, associated_data)
    except InvalidTag:
        raise DecryptionError(
            f"authentication failed for a token under key {key_id!r} in context {context!r}: "
            f"the token was altered, was encrypted for another context, or key {key_id!r} "
            "is not the key that encrypted it"
        ) from None

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Reachable only when something other than `encrypt` sealed bytes with this key.
        raise DecryptionError(f"token under key {key_id!r} decrypted to bytes that are not UTF-8 text") from None


def key_id_of(token: str) -> str:
    """Return the id of the key that encrypted `token`. Raises DecryptionError when it is malformed."""
    key_id, _ = _parse_token(token)
    return key_id


def needs_rotation(ring: KeyRing, token: str) -> bool:
    """Return whether `token` was encrypted with a key other than the ring's current key."""
    return key_id_of(token) != ring.current_key_id


def reencrypt(ring: KeyRing, token: str, *, context: str) -> str:
    """Decrypt `token` and encrypt its value again under the current key, with a new nonce.

    This always produces a new token, even when the token already uses the current key, so
    check `needs_rotation` first to skip rows that are up to date.
    """
    return encrypt(ring, decrypt(ring, token, context=context), context=context)


def blind_index(ring: KeyRing, value: str, *, context: str) -> str:
    """Compute the hex HMAC-SHA256 of `context` and `value` under the ring's hashing key.

    The result is deterministic, so normalize `value` (case, spaces, punctuation) the same way
    before storing and before searching. The context is length-prefixed in the hashed message,
    so no pair of context and value collides with another pair by concatenation.
    """
    context_bytes = _context_bytes(context)
    message = len(context_bytes).to_bytes(4, "big") + context_bytes + _utf8(value, "value")
    return hmac.new(ring._hash_key, message, hashlib.sha256).hexdigest()


def _parse_token(token: str) -> tuple[str, bytes]:
    # Messages here never echo the token's parts, because a column that still contains a plaintext
    # value may be passed in by mistake.
    parts = token.split(":")
    if len(parts) != 3:
        raise DecryptionError(
            f"malformed token: expected '{TOKEN_VERSION}:<key id>:<data>', three parts separated by ':', "
            f"but found {len(parts)} part(s)"
        )

    version, key_id, encoded = parts
    if version != TOKEN_VERSION:
        raise DecryptionError(f"malformed token: it does not start with '{TOKEN_VERSION}:'")
    if not _KEY_ID_PATTERN.fullmatch(key_id):
        raise DecryptionError("malformed token: the key id is empty or has characters other than letters, digits, '-' and '_'")

    try:
        payload = _decode_base64url(encoded)
    except ValueError:
        raise DecryptionError("malformed token: the data part is not valid base64url") from None
    if len(payload) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionError(
            f"malformed token: the data part is {len(payload)} bytes, "
            f"shorter than the {NONCE_SIZE}-byte nonce and {TAG_SIZE}-byte tag"
        )
    return key_id, payload


def _context_bytes(context: str) -> bytes:
    if not context:
        raise ValueError("context must be a non-empty string, such as 'table.column'")
    return _utf8(context, "context")


def _utf8(text: str, name: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        # The original error carries the whole string, so it is not chained.
        raise ValueError(f"{name} is not valid Unicode text: it has a lone surrogate at position {error.start}") from None


def _check_key_id(key_id: str) -> None:
    if not _KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyRingError(f"invalid key id {key_id!r}: use one or more letters, digits, '-' or '_'")


def _list_ids(key_ids: Iterable[str]) -> str:
    return ", ".join(repr(key_id) for key_id in key_ids)


def _parse_encryption_keys(text: str) -> dict[str, bytes]:
    name = ENCRYPTION_KEYS_VARIABLE
    if not text.strip():
        raise KeyRingError(
            f"{name} is empty; set it to comma-separated id:base64key entries such as 'k1:<key>' "
            f"({_GENERATE_HINT}), or unset it and {HASH_KEY_VARIABLE} to use keys stored in {KEY_FILE_NAME}"
        )

    keys: dict[str, bytes] = {}
    for position, entry in enumerate(text.split(","), start=1):
        # Entries that fail are named by position, since an entry without a valid id may be a bare key.
        key_id, separator, encoded = entry.strip().partition(":")
        key_id = key_id.strip()
        if not key_id and not separator:
            raise KeyRingError(f"{name} entry {position} is empty; remove the extra comma")
        if not separator:
            raise KeyRingError(f"{name} entry {position} has no ':'; write each entry as id:base64key, such as k1:<key>")
        if not _KEY_ID_PATTERN.fullmatch(key_id):
            raise KeyRingError(
                f"{name} entry {position} has an empty or invalid key id; use letters, digits, '-' or '_' before the ':'"
            )
        if key_id in keys:
            raise KeyRingError(f"{name} lists key id {key_id!r} more than once, so give each key its own id")
        keys[key_id] = _decode_key(encoded, f"{name} key {key_id!r}")
    return keys


def _decode_key(text: str, label: str) -> bytes:
    """Decode one base64 key, where `label` names its source in error messages."""
    text = text.strip()
    if not text:
        raise KeyRingError(f"{label} is empty; {_GENERATE_HINT}")
    try:
        key = _decode_base64(text)
    except ValueError:
        raise KeyRingError(f"{label} is not valid base64; {_GENERATE_HINT}") from None
    if len(key) != KEY_SIZE:
        raise KeyRingError(
            f"{label} decodes to {len(key)} bytes, but it must be {KEY_SIZE} bytes (256 bits); {_GENERATE_HINT}"
        )
    return key


def _encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode_base64(text: str) -> bytes:
    """Decode standard or URL-safe base64, with or without padding. Raises ValueError."""
    standard = text.replace("-", "+").replace("_", "/")
    standard += "=" * (-len(standard) % 4)
    return base64.b64decode(standard, validate=True)


def _encode_base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_base64url(text: str) -> bytes:
    """Decode unpadded base64url. Raises ValueError."""
    if not _BASE64URL_PATTERN.fullmatch(text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def _load_or_create_key_file(path: Path) -> KeyRing:
    if path.exists():
        return _read_key_file(path)

    ring = KeyRing.generate()
    try:
        _write_private_file(path, ring._to_json(), overwrite=False)
    except FileExistsError:
        # Another process created the file first, so its keys are the ones to use.
        return _read_key_file(path)
    logger.warning(
        "Generated new encryption and hashing keys in %s. Back this file up: "
        "values encrypted with its keys cannot be decrypted without it.",
        path,
    )
    return ring


def _read_key_file(path: Path) -> KeyRing:
    advice = (
        f"restore {path} from a backup; deleting it makes values encrypted with its keys unreadable"
    )
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise KeyRingError(f"cannot read key file {path}: {error.strerror}; check its permissions") from None
    _warn_if_readable_by_others(path)

    try:
        document: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyRingError(f"key file {path} is not valid UTF-8 JSON; {advice}") from None

    if not isinstance(document, dict) or document.get("format") != _KEY_FILE_FORMAT:
        raise KeyRingError(f"key file {path} has a missing or unsupported 'format' (expected {_KEY_FILE_FORMAT}); {advice}")
    current_key_id = document.get("current_key_id")
    encoded_keys = document.get("encryption_keys")
    encoded_hash_key = document.get("hash_key")
    if not isinstance(current_key_id, str):
        raise KeyRingError(f"key file {path} has no string 'current_key_id'; {advice}")
    if not isinstance(encoded_keys, dict) or not all(isinstance(value, str) for value in encoded_keys.values()):
        raise KeyRingError(f"key file {path} has no 'encryption_keys' object of id to base64 key; {advice}")
    if not isinstance(encoded_hash_key, str):
        raise KeyRingError(f"key file {path} has no string 'hash_key'; {advice}")

    keys = {key_id: _decode_key(encoded, f"key {key_id!r} in {path}") for key_id, encoded in encoded_keys.items()}
    hash_key = _decode_key(encoded_hash_key, f"'hash_key' in {path}")
    try:
        return KeyRing(keys, current_key_id, hash_key)
    except KeyRingError as error:
        raise KeyRingError(f"key file {path}: {error}; {advice}") from None


def _warn_if_readable_by_others(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("Key file %s has mode %o, so other users may read it; restrict it with `chmod 600 %s`.", path, mode, path)


def _write_private_file(path: Path, text: str, *, overwrite: bool) -> None:
    """Write `text` to `path` with mode 0600 through a temporary file, so readers never see a partial file.

    With `overwrite` false, raises FileExistsError when `path` already exists. The final step is
    then a hard link, which fails atomically if another process created `path` in the meantime.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            # The umask may have cleared bits of 0o600 at creation, so the mode is set exactly.
            os.chmod(temporary, 0o600)
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # Makes the new directory entry durable, because losing a generated key file loses the data it protects.
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
