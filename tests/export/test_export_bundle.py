"""Bundle verification: a valid bundle passes; every tampering, layout trick or foreign signature fails."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.signing import generate_private_key, sign_bytes
from model_export._errors import BundleError, TamperedBundle, UnsafeBundle
from model_export.bundle import pack_tar, pack_tar_bytes, sign_bundle, verify_bundle

from .conftest import Keys

FILES = ["model.onnx", "manifest.json", "manifest.sig"]


def test_valid_bundle_verifies(bundle_dir: Path, keys: Keys, tmp_path: Path) -> None:
    verified = verify_bundle(bundle_dir, [keys.public])
    assert verified.manifest.name == "pump-a"
    staged = verified.write_to(tmp_path / "staged")
    assert verify_bundle(staged, [keys.public]).manifest == verified.manifest
    tar = pack_tar(bundle_dir, tmp_path / "b.tar")
    assert verify_bundle(tar, [keys.public]).model_bytes == verified.model_bytes


def test_flipped_model_byte_is_refused(bundle_dir: Path, keys: Keys) -> None:
    data = bytearray((bundle_dir / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle_dir / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(TamperedBundle, match="SHA-256"):
        verify_bundle(bundle_dir, [keys.public])


def test_edited_manifest_is_refused(bundle_dir: Path, keys: Keys) -> None:
    doc = json.loads((bundle_dir / "manifest.json").read_bytes())
    doc["threshold"]["value"] *= 10
    (bundle_dir / "manifest.json").write_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(TamperedBundle, match="signature"):
        verify_bundle(bundle_dir, [keys.public])


def test_added_file_is_refused(bundle_dir: Path, keys: Keys) -> None:
    (bundle_dir / "README").write_text("hello")
    with pytest.raises(UnsafeBundle, match="unexpected file"):
        verify_bundle(bundle_dir, [keys.public])


def test_other_bundles_signature_is_refused(bundle_dir: Path, keys: Keys, tmp_path: Path) -> None:
    from model_export.train import TrainOptions, train_bundle

    other = train_bundle(
        tmp_path / "other", simulate_rows=400, options=TrainOptions(name="pump-b"), sign_key=keys.private
    )
    assert other.path is not None
    (bundle_dir / "manifest.sig").write_bytes((other.path / "manifest.sig").read_bytes())
    with pytest.raises(TamperedBundle, match="bad signature"):
        verify_bundle(bundle_dir, [keys.public])


def test_unknown_signer_and_unsigned_are_refused(bundle_dir: Path, keys: Keys) -> None:
    stranger = generate_private_key()
    with pytest.raises(TamperedBundle, match="unknown key"):
        verify_bundle(bundle_dir, [stranger.public_key()])
    (bundle_dir / "manifest.sig").unlink()
    with pytest.raises(TamperedBundle, match=r"lacks manifest\.sig"):
        verify_bundle(bundle_dir, [keys.public])


def test_non_canonical_manifest_signed_anyway_is_refused(bundle_dir: Path, keys: Keys) -> None:
    pretty = json.dumps(json.loads((bundle_dir / "manifest.json").read_bytes()), indent=1).encode()
    (bundle_dir / "manifest.json").write_bytes(pretty)
    (bundle_dir / "manifest.sig").write_bytes(sign_bytes(keys.private, pretty))
    with pytest.raises(TamperedBundle, match="canonical"):
        verify_bundle(bundle_dir, [keys.public])


def test_symlinks_are_refused(bundle_dir: Path, keys: Keys, tmp_path: Path) -> None:
    outside = tmp_path / "model-copy.onnx"
    outside.write_bytes((bundle_dir / "model.onnx").read_bytes())
    (bundle_dir / "model.onnx").unlink()
    os.symlink(outside, bundle_dir / "model.onnx")
    with pytest.raises(UnsafeBundle, match="regular file"):
        verify_bundle(bundle_dir, [keys.public])
    link = tmp_path / "link"
    os.symlink(bundle_dir, link)
    with pytest.raises(UnsafeBundle, match="symlink"):
        verify_bundle(link, [keys.public])


def _tar(tmp_path: Path, members: Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    out = tmp_path / "evil.tar"
    with tarfile.open(out, "w") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.parametrize("evil", ["../model.onnx", "/model.onnx", "a/b/model.onnx", "extra.txt", "symlink", "dup"])
def test_unsafe_tars_are_refused(bundle_dir: Path, keys: Keys, tmp_path: Path, evil: str) -> None:
    files = {n: (bundle_dir / n).read_bytes() for n in FILES}
    members = [_file(n, d) for n, d in files.items() if not (evil.endswith("model.onnx") and n == "model.onnx")]
    if evil == "symlink":
        link = tarfile.TarInfo("model.onnx")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        members = [m for m in members if m[0].name != "model.onnx"] + [(link, None)]
    elif evil == "dup":
        members.append(_file("model.onnx", b"other"))
    else:
        members.append(_file(evil, files["model.onnx"]))
    with pytest.raises(UnsafeBundle):
        verify_bundle(_tar(tmp_path, members), [keys.public])


def test_tar_with_one_top_directory_is_accepted(bundle_dir: Path, keys: Keys, tmp_path: Path) -> None:
    top = tarfile.TarInfo("bundle")
    top.type = tarfile.DIRTYPE
    members = [(top, None)] + [_file(f"bundle/{n}", (bundle_dir / n).read_bytes()) for n in FILES]
    assert verify_bundle(_tar(tmp_path, members), [keys.public]).manifest.name == "pump-a"


def test_sign_bundle_signs_directory_and_tar(bundle_dir: Path, keys: Keys, tmp_path: Path) -> None:
    new_key = generate_private_key()
    (bundle_dir / "manifest.sig").unlink()
    sign_bundle(bundle_dir, new_key)
    assert verify_bundle(bundle_dir, [new_key.public_key()]).key_id
    tar = tmp_path / "b.tar"
    tar.write_bytes(pack_tar_bytes({n: (bundle_dir / n).read_bytes() for n in FILES[:2]}))
    sign_bundle(tar, keys.private)
    verify_bundle(tar, [keys.public])


def test_garbage_tar_is_a_bundle_error(tmp_path: Path, keys: Keys) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(BundleError):
        verify_bundle(junk, [keys.public])


TAMPER = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from(FILES), st.integers(0, 2**31), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.sampled_from(FILES), st.integers(0, 2**31), st.just(0)),
    st.tuples(st.just("append"), st.sampled_from(FILES), st.integers(1, 255), st.just(0)),
    st.tuples(st.just("delete"), st.sampled_from(FILES), st.just(0), st.just(0)),
    st.tuples(
        st.just("add"), st.sampled_from(["x", ".hidden", "model.onnx.bak", "manifest.json~"]), st.just(0), st.just(0)
    ),
)


def _tamper(files: dict[str, bytes], op: tuple[str, str, int, int]) -> dict[str, bytes]:
    kind, name, n, bit = op
    out = dict(files)
    if kind in ("flip", "truncate") and not out[name]:
        kind = "append"
    if kind == "flip":
        data = bytearray(out[name])
        data[n % len(data)] ^= 1 << bit
        out[name] = bytes(data)
    elif kind == "truncate":
        out[name] = out[name][: n % len(out[name])]
    elif kind == "append":
        out[name] = out[name] + bytes([n % 256])
    elif kind == "delete":
        del out[name]
    else:
        out[name] = b"extra"
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(TAMPER, min_size=1, max_size=3), as_tar=st.booleans())
def test_random_tampering_is_always_refused(
    signed_bundle_bytes: dict[str, bytes],
    keys: Keys,
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[str, str, int, int]],
    as_tar: bool,
) -> None:
    files = dict(signed_bundle_bytes)
    for op in ops:
        files = _tamper(files, op) if (op[0] == "add" or op[1] in files) else files
    if files == signed_bundle_bytes:
        return  # e.g. a truncation to full length: nothing changed
    where = tmp_path_factory.mktemp("tampered")
    if as_tar:
        path = where / "b.tar"
        path.write_bytes(pack_tar_bytes(files))
    else:
        path = where / "b"
        path.mkdir()
        for name, data in files.items():
            (path / name).write_bytes(data)
    with pytest.raises(BundleError):
        verify_bundle(path, [keys.public])
