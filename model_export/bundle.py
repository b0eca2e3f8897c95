"""Model bundles: write, sign and verify (LIGHT: no scikit-learn, no onnx; the agent and the hub import it).

A bundle is a directory, or a .tar of one, holding exactly `model.onnx`, `manifest.json` (the manifest's
canonical JSON bytes) and `manifest.sig` (`contracts.signing.sign_bytes` over those bytes).

`verify_bundle` trusts nothing it has not checked, in this order:
1. layout: only the three files, regular files, no symlinks, no path escaping the bundle, size limits;
   a .tar is never extracted to disk: its three members are read into memory;
2. the signature over the raw `manifest.json` bytes, by one of the pinned public keys;
3. `manifest.json` parses as a Manifest and is byte-for-byte its canonical form;
4. `model.onnx` has the size and SHA-256 the manifest records.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts._errors import PayloadError, SignatureError
from contracts._files import write_atomic
from contracts.manifest import BUNDLE_FILES, MANIFEST_FILE, MODEL_FILE, SIGNATURE_FILE, Manifest, parse_manifest
from contracts.signing import canonical_json, key_id, load_public_key, sign_bytes, verify_bytes
from model_export._errors import BundleError, TamperedBundle, UnsafeBundle

MAX_SIZES = {MODEL_FILE: 256 * 1024 * 1024, MANIFEST_FILE: 8 * 1024 * 1024, SIGNATURE_FILE: 4096}
"""Largest accepted size of each bundle file, in bytes."""


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed every check: the parsed manifest, the model bytes and the signer's key id."""

    manifest: Manifest
    model_bytes: bytes
    manifest_bytes: bytes
    signature: bytes
    key_id: str
    source: Path

    def write_to(self, directory: Path) -> Path:
        """Stage the verified files into `directory` (created; each file written atomically)."""
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / MODEL_FILE, self.model_bytes)
        write_atomic(directory / MANIFEST_FILE, self.manifest_bytes)
        write_atomic(directory / SIGNATURE_FILE, self.signature)
        return directory


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_bundle(path: Path, trusted_public_keys: Sequence[Ed25519PublicKey]) -> VerifiedBundle:
    """Verify a bundle directory or .tar against pinned release keys; raise a BundleError subclass if not."""
    files = read_bundle_files(path)
    missing = sorted(BUNDLE_FILES - files.keys())
    if missing:
        raise TamperedBundle(f"bundle lacks {', '.join(missing)}")
    manifest_bytes, signature = files[MANIFEST_FILE], files[SIGNATURE_FILE]
    try:
        key = verify_bytes(list(trusted_public_keys), manifest_bytes, signature)
    except SignatureError as exc:
        raise TamperedBundle(f"signature: {exc}") from None
    _check_envelope_canonical(signature)
    manifest = _parse(manifest_bytes)
    if manifest.canonical_bytes() != manifest_bytes:
        raise TamperedBundle("manifest.json is not in canonical form")
    _check_model(manifest, files[MODEL_FILE])
    return VerifiedBundle(manifest, files[MODEL_FILE], manifest_bytes, signature, key, path)


def _check_envelope_canonical(signature: bytes) -> None:
    """Refuse a signature file that verifies but is not byte-for-byte the envelope `sign_bytes` writes
    (base64 padding bits, key order, spacing): any change to a bundle file must be detected."""
    doc = json.loads(signature)
    if set(doc) != {"schema", "alg", "keyid", "sig"}:
        raise TamperedBundle("manifest.sig has unexpected fields")
    doc["sig"] = base64.b64encode(base64.b64decode(doc["sig"])).decode("ascii")
    if canonical_json(doc) != signature:
        raise TamperedBundle("manifest.sig is not in canonical form")


def _parse(manifest_bytes: bytes) -> Manifest:
    try:
        return parse_manifest(manifest_bytes)
    except PayloadError as exc:
        raise TamperedBundle(f"manifest.json is invalid: {exc}") from None


def _check_model(manifest: Manifest, model: bytes) -> None:
    expected = manifest.model_file
    if len(model) != expected.size:
        raise TamperedBundle(f"model.onnx is {len(model)} bytes, manifest says {expected.size}")
    if sha256_hex(model) != expected.sha256:
        raise TamperedBundle("model.onnx SHA-256 does not match the manifest")


def read_bundle_files(path: Path) -> dict[str, bytes]:
    """The bundle's files by name, checked for layout and size (see the module docstring)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        raise BundleError(f"cannot read bundle {path}: {exc.strerror}") from None
    if stat.S_ISLNK(mode):
        raise UnsafeBundle(f"{path} is a symlink")
    if stat.S_ISDIR(mode):
        return _read_directory(path)
    if stat.S_ISREG(mode):
        return _read_tar(path)
    raise UnsafeBundle(f"{path} is neither a directory nor a regular file")


def _read_directory(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name not in BUNDLE_FILES:
                raise UnsafeBundle(f"unexpected file in bundle: {entry.name[:100]!r}")
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                raise UnsafeBundle(f"{entry.name} is not a regular file")
            files[entry.name] = _read_regular(Path(entry.path), MAX_SIZES[entry.name])
    return files


def _read_regular(path: Path, limit: int) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnsafeBundle(f"cannot open {path.name}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UnsafeBundle(f"{path.name} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeBundle(f"{path.name} is larger than {limit} bytes")
    return data


def _read_tar(path: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(path, mode="r:*") as archive:
            return _tar_members(archive)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"{path} is not a readable tar: {exc}") from None


def _tar_members(archive: tarfile.TarFile) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    tops: set[str] = set()
    for member in archive.getmembers():
        parts = _member_parts(member.name)
        if member.isdir() and len(parts) <= 1:
            tops.update(parts)
            continue
        if not member.isfile():
            raise UnsafeBundle(f"tar member {member.name[:100]!r} is not a regular file")
        if len(parts) not in (1, 2) or parts[-1] not in BUNDLE_FILES:
            raise UnsafeBundle(f"unexpected tar member {member.name[:100]!r}")
        tops.update(parts[:-1])
        if parts[-1] in files or member.size > MAX_SIZES[parts[-1]]:
            raise UnsafeBundle(f"duplicate or oversized tar member {member.name[:100]!r}")
        handle = archive.extractfile(member)
        if handle is None:
            raise UnsafeBundle(f"cannot read tar member {member.name[:100]!r}")
        files[parts[-1]] = handle.read(MAX_SIZES[parts[-1]] + 1)
    if len(tops) > 1:
        raise UnsafeBundle("tar holds more than one top-level directory")
    return files


def _member_parts(name: str) -> tuple[str, ...]:
    pure = PurePosixPath(name)
    if pure.is_absolute() or "\\" in name or any(p == ".." for p in pure.parts):
        raise UnsafeBundle(f"tar member {name[:100]!r} escapes the bundle")
    return tuple(p for p in pure.parts if p != ".")


def write_bundle(directory: Path, model_bytes: bytes, manifest: Manifest, signature: bytes | None = None) -> Path:
    """Write an (optionally signed) bundle directory; refuses a directory holding other files."""
    if directory.exists():
        strays = [p.name for p in directory.iterdir() if p.name not in BUNDLE_FILES]
        if strays or not directory.is_dir():
            raise BundleError(f"{directory} exists and is not a bundle directory")
    write_atomic(directory / MODEL_FILE, model_bytes)
    write_atomic(directory / MANIFEST_FILE, manifest.canonical_bytes())
    sig_path = directory / SIGNATURE_FILE
    if signature is not None:
        write_atomic(sig_path, signature)
    else:
        sig_path.unlink(missing_ok=True)
    return directory


def sign_bundle(path: Path, key: Ed25519PrivateKey) -> str:
    """Sign the bundle's manifest (directory or .tar) in place; return the signer's key id.

    The manifest is re-checked against model.onnx and rewritten in canonical form before signing.
    """
    files = read_bundle_files(path)
    if MANIFEST_FILE not in files or MODEL_FILE not in files:
        raise BundleError(f"{path} lacks {MANIFEST_FILE} or {MODEL_FILE}")
    manifest = _parse(files[MANIFEST_FILE])
    _check_model(manifest, files[MODEL_FILE])
    canonical = manifest.canonical_bytes()
    signature = sign_bytes(key, canonical)
    files.update({MANIFEST_FILE: canonical, SIGNATURE_FILE: signature})
    if path.is_dir():
        write_atomic(path / MANIFEST_FILE, canonical)
        write_atomic(path / SIGNATURE_FILE, signature)
    else:
        write_atomic(path, pack_tar_bytes(files))
    return key_id(key.public_key())


def pack_tar_bytes(files: dict[str, bytes]) -> bytes:
    """A deterministic .tar of bundle files (flat, sorted, mtime 0, mode 0644)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def pack_tar(directory: Path, out: Path) -> Path:
    """Pack a bundle directory into a .tar (layout-checked first)."""
    write_atomic(out, pack_tar_bytes(read_bundle_files(directory)))
    return out


def load_public_keys(paths: Sequence[Path]) -> list[Ed25519PublicKey]:
    """Pinned release keys from PEM files (contracts.SignatureError if one is unreadable)."""
    return [load_public_key(p) for p in paths]
