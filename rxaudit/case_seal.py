"""The seal of a case file: ``SHA256SUMS`` (the sha256 of every other member), signed with the bureau's
Ed25519 key (``SHA256SUMS.sig``, the raw 64-byte signature), the public key beside them
(``public-key.pem``, listed in ``SHA256SUMS``), the whole zip in the canonical layout of
:mod:`rxaudit.sealed_zip`. :func:`verify_case` checks a case file offline with nothing but this module:

* the layout (any changed byte of a header, the directory or the end record fails here);
* ``SHA256SUMS``: well formed, every member listed once with its true sha256, nothing missing or extra,
  in the order written;
* the signature over ``SHA256SUMS`` with the trusted key (``--public-key``) — or, when none is given,
  the key inside the zip, whose fingerprint the recipient must compare with the bureau's published one.

The private key comes from the settings (``case_signing_key_file``, a PEM file, or
``case_signing_key``, the PEM itself, e.g. from ``RXAUDIT_CASE_SIGNING_KEY``); it is never logged,
printed or written anywhere but the file ``rxaudit case-key generate`` creates (mode 0600).
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rxaudit.errors import ConfigError, InputError
from rxaudit.sealed_zip import MAX_MEMBERS, ZipLayoutError, read_canonical

if TYPE_CHECKING:
    from rxaudit.settings import Settings

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PUBLIC_KEY = "public-key.pem"
SEAL = (SUMS, SIGNATURE)  # the members SHA256SUMS cannot list
KEY_FILE_MAX = 16 * 1024
SUMS_MAX = 4 << 20  # 20,000 lines of ~100 bytes
_LINE = re.compile(r"([0-9a-f]{64})  ([^\n]+)")


def _private_from_pem(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):  # the message could quote the key: not passed on
        raise ConfigError(f"{where}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where}: not an Ed25519 key")
    return key


def signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The bureau's private key from the settings, or None when none is configured."""
    inline = settings.case_signing_key.get_secret_value()
    if inline:
        return _private_from_pem(inline.encode(), "case_signing_key")
    path = settings.case_signing_key_file
    if path is None:
        return None
    try:
        with Path(path).open("rb") as fh:
            pem = fh.read(KEY_FILE_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"case_signing_key_file: cannot read {path} ({exc.strerror})") from None
    if len(pem) > KEY_FILE_MAX:
        raise ConfigError(f"case_signing_key_file: {path} is not a key (over {KEY_FILE_MAX} bytes)")
    return _private_from_pem(pem, "case_signing_key_file")


def generate_key_file(path: Path) -> Ed25519PrivateKey:
    """A new private key written to ``path`` (which must not exist), readable by its owner only."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} exists already; a key is never overwritten") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """sha256 of the raw 32-byte public key, in groups of four hex digits (to read out on the phone)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()
    return " ".join(digest[i:i + 4] for i in range(0, 64, 4))


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM, or ValueError."""
    if len(data) > KEY_FILE_MAX:
        raise ValueError("too large for a public key")
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def manifest(entries: list[tuple[str, str]]) -> bytes:
    """``SHA256SUMS`` (what ``sha256sum -c`` reads) of (name, sha256) in the order written."""
    return "".join(f"{digest}  {name}\n" for name, digest in entries).encode()


def sign(key: Ed25519PrivateKey, sums: bytes) -> bytes:
    return key.sign(sums)


class Problem(enum.StrEnum):
    """What failed, the first of each kind; :mod:`api.case_texts` says it in words."""

    UNREADABLE = "unreadable"  # the file cannot be opened
    LAYOUT = "layout"  # not the canonical zip (detail: the first deviation)
    NO_SUMS = "no_sums"
    BAD_SUMS = "bad_sums"  # a line that is not '<sha256>  <name>' (detail: the line number)
    NOT_SIGNED = "not_signed"
    NO_KEY = "no_key"  # no public key given and none inside
    BAD_KEY = "bad_key"  # the given or the enclosed key cannot be read (detail: which)
    OTHER_KEY = "other_key"  # the enclosed key is not the one given
    BAD_SIGNATURE = "bad_signature"
    MISSING = "missing"  # listed, not in the zip (detail: the name)
    EXTRA = "extra"  # in the zip, not listed
    MISMATCH = "mismatch"  # content differs from its listed sha256
    ORDER = "order"  # members not in the order SHA256SUMS lists them


@dataclass
class Verdict:
    failures: list[tuple[Problem, str]] = field(default_factory=list)
    members: int = 0
    fingerprint: str | None = None  # of the key the signature was checked with
    trusted_key: bool = False  # checked with a key the recipient gave, not only the enclosed one

    @property
    def ok(self) -> bool:
        return not self.failures


def _parse_sums(data: bytes, verdict: Verdict) -> list[tuple[str, str]] | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        verdict.failures.append((Problem.BAD_SUMS, "1"))
        return None
    if not text.endswith("\n") or "\r" in text:
        verdict.failures.append((Problem.BAD_SUMS, str(text.count("\n") + 1)))
        return None
    listed = []
    for number, line in enumerate(text[:-1].split("\n"), 1):
        match = _LINE.fullmatch(line)
        if match is None or match.group(2) in SEAL:
            verdict.failures.append((Problem.BAD_SUMS, str(number)))
            return None
        listed.append((match.group(2), match.group(1)))
    return listed


def verify_case(path: Path, trusted: Ed25519PublicKey | None = None, *,
                max_members: int = MAX_MEMBERS) -> Verdict:
    """Check the case file at ``path`` (see the module's text). Never extracts or inflates anything."""
    verdict = Verdict()
    try:
        with Path(path).open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            members, kept = read_canonical(fh, size, max_members=max_members,
                                           keep=frozenset({SUMS, SIGNATURE, PUBLIC_KEY}), keep_max=SUMS_MAX)
    except OSError as exc:
        verdict.failures.append((Problem.UNREADABLE, exc.strerror or type(exc).__name__))
        return verdict
    except ZipLayoutError as exc:
        verdict.failures.append((Problem.LAYOUT, str(exc)))
        return verdict
    verdict.members = len(members)
    if SUMS not in kept:
        verdict.failures.append((Problem.NO_SUMS, ""))
        return verdict
    listed = _parse_sums(kept[SUMS], verdict)
    _check_signature(kept, trusted, verdict)
    if listed is None:
        return verdict
    actual = {m.name: m.sha256 for m in members}
    names = [name for name, _ in listed]
    for name in sorted({n for n in names if names.count(n) > 1}):
        verdict.failures.append((Problem.BAD_SUMS, name))
    for name, digest in listed:
        if name not in actual:
            verdict.failures.append((Problem.MISSING, name))
        elif actual[name] != digest:
            verdict.failures.append((Problem.MISMATCH, name))
    for m in members:
        if m.name not in SEAL and m.name not in set(names):
            verdict.failures.append((Problem.EXTRA, m.name))
    written = [m.name for m in members]
    expected = [n for n in names if n in actual] + [n for n in SEAL if n in actual]
    if not any(p in (Problem.MISSING, Problem.EXTRA) for p, _ in verdict.failures) and written != expected:
        verdict.failures.append((Problem.ORDER, ""))
    return verdict


def _check_signature(kept: dict[str, bytes], trusted: Ed25519PublicKey | None, verdict: Verdict) -> None:
    enclosed = None
    if PUBLIC_KEY in kept:
        try:
            enclosed = load_public_key(kept[PUBLIC_KEY])
        except ValueError:
            verdict.failures.append((Problem.BAD_KEY, PUBLIC_KEY))
    if trusted is not None and enclosed is not None and public_pem(trusted) != public_pem(enclosed):
        verdict.failures.append((Problem.OTHER_KEY, fingerprint(enclosed)))
    key = trusted or enclosed
    if SIGNATURE not in kept:
        verdict.failures.append((Problem.NOT_SIGNED, ""))
        return
    if key is None:
        if not any(p == Problem.BAD_KEY for p, _ in verdict.failures):
            verdict.failures.append((Problem.NO_KEY, ""))
        return
    verdict.fingerprint, verdict.trusted_key = fingerprint(key), trusted is not None
    try:
        key.verify(kept[SIGNATURE], kept[SUMS])
    except InvalidSignature:
        verdict.failures.append((Problem.BAD_SIGNATURE, ""))
