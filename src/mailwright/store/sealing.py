"""Envelope encryption of the secrets we must read back: DKIM private keys, TOTP secrets, OAuth
token signing keys and the ``settings`` table's keys. Passwords and API keys are hashed instead.

Each value is encrypted (AES-256-GCM) with a data key made for it alone; the data key is
encrypted ("wrapped") with the current key-encryption key of the ``Keyring``
(``MAILWRIGHT_SECRET_KEYS``). A sealed value is one line of text that names its key::

    mwenc1:<key id>:<nonce + wrapped data key>:<nonce + ciphertext>    (base64url, no padding)

The ciphertext's associated data is the value's *place* (``dkim:<domain id>:<selector>``,
``settings:<name>``...), so a sealed value copied into another row does not open. Moving to a
new key-encryption key re-wraps the 32-byte data key and leaves the ciphertext as it is
(``Keyring.rewrap``). A value that is not a sealed token is plaintext written before sealing
existed: it reads as itself until a sweep (``sealed.sweep``) seals it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "mwenc1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
MEMO_LIMIT = 4096  # opened values kept, so signing a message does not decrypt its key again


class SealError(Exception):
    """A sealed secret could not be opened."""


class MissingKey(SealError):
    """A value is sealed under a key-encryption key that is not configured."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"a secret in the database is sealed with key {key_id!r}, which is not in "
            "MAILWRIGHT_SECRET_KEYS (or the data dir's secret.key): add it back; every process "
            "sharing a database needs the same keys"
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX + ":")


def key_id_of(value: str) -> str | None:
    """The id of the key-encryption key ``value`` is sealed under; None for plaintext."""
    return value.split(":", 2)[1] if is_sealed(value) else None


def generate_entry() -> str:
    """A new ``id:base64`` entry for ``MAILWRIGHT_SECRET_KEYS``."""
    key_id = "k" + secrets.token_hex(4)
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode('ascii')}"


def parse_keys(text: str) -> dict[str, bytes]:
    """``id:base64-of-32-bytes`` entries, comma-separated, the current one first. Raises
    ``ValueError`` saying which entry is wrong (never echoing a key)."""
    keys: dict[str, bytes] = {}
    for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not KEY_ID.fullmatch(key_id):
            raise ValueError(f"entry {position}: expected id:base64key, id of letters/digits/-_")
        try:
            key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
        except binascii.Error:
            raise ValueError(f"key {key_id!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} is given twice")
        keys[key_id] = key
    if not keys:
        raise ValueError("no keys given")
    return keys


class Keyring:
    """Key-encryption keys by id; the first seals, every one opens."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs a key")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current_id = next(iter(keys))
        self._memo: dict[tuple[str, str], str] = {}

    @classmethod
    def parse(cls, text: str) -> Keyring:
        return cls(parse_keys(text))

    @classmethod
    def ephemeral(cls) -> Keyring:
        """A random key held only in memory: for tests and tools that keep nothing."""
        return cls({"ephemeral-" + secrets.token_hex(4): secrets.token_bytes(KEY_BYTES)})

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        """The keys in ``path``, made there (mode 0600) when it does not exist yet. Processes
        starting at once all end up with the first one's key: the file appears whole or not
        at all (a link of a finished temporary file)."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(generate_entry() + "\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
            temporary.unlink()
        try:
            return cls.parse(path.read_text().strip())
        except ValueError as exc:
            raise SealError(f"{path}: {exc}") from None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def seal(self, plaintext: str, place: str) -> str:
        """``plaintext`` encrypted for ``place``; an empty value stays empty (nothing to hide:
        a retired key's erased PEM)."""
        if plaintext == "":
            return ""
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext.encode(), place.encode())
        return self._token(self.current_id, data_key, place, ciphertext)

    def open(self, value: str, place: str) -> str:
        """The plaintext of ``value`` sealed for ``place``; plaintext (not sealed) as it is.
        Raises ``MissingKey`` or ``SealError`` (tampered, or sealed for another place)."""
        if not is_sealed(value):
            return value
        memo_key = (value, place)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        data_key, ciphertext = self._unwrap(value, place)
        try:
            plaintext = AESGCM(data_key).decrypt(
                ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], place.encode()
            )
        except InvalidTag:
            raise SealError(f"the secret at {place} is damaged or belongs elsewhere") from None
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        opened = self._memo[memo_key] = plaintext.decode()
        return opened

    def rewrap(self, value: str, place: str) -> str:
        """``value`` sealed under the current key: plaintext is sealed, a value sealed under
        an older key gets its data key wrapped again; one already current is returned as is.
        The value is opened first, so a damaged one is refused rather than carried along."""
        if not is_sealed(value):
            return self.seal(value, place)
        self.open(value, place)
        if key_id_of(value) == self.current_id:
            return value
        data_key, ciphertext = self._unwrap(value, place)
        return self._token(self.current_id, data_key, place, ciphertext)

    def _token(self, key_id: str, data_key: bytes, place: str, ciphertext: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._keys[key_id].encrypt(nonce, data_key, _wrap_context(key_id, place))
        return f"{PREFIX}:{key_id}:{_b64(nonce + wrapped)}:{_b64(ciphertext)}"

    def _unwrap(self, value: str, place: str) -> tuple[bytes, bytes]:
        parts = value.split(":")
        if len(parts) != 4:
            raise SealError(f"the secret at {place} is not a well-formed sealed value")
        _, key_id, wrapped_text, ciphertext_text = parts
        kek = self._keys.get(key_id)
        if kek is None:
            raise MissingKey(key_id)
        try:
            wrapped, ciphertext = _unb64(wrapped_text), _unb64(ciphertext_text)
            data_key = kek.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_context(key_id, place)
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise SealError(
                f"the secret at {place} is damaged or belongs elsewhere, or key {key_id!r} is "
                "not the key it was sealed with"
            ) from None
        if len(ciphertext) <= NONCE_BYTES:
            raise SealError(f"the secret at {place} is not a well-formed sealed value")
        return data_key, ciphertext


def _wrap_context(key_id: str, place: str) -> bytes:
    return f"{PREFIX}:{key_id}:{place}".encode()
