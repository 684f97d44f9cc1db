"""The build hook's checks: pinned integrity, only the needed files extracted."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from gateway.http import graphiql

ROOT = Path(__file__).resolve().parents[2]


def load_hatch_build():
    """hatch_build.py sits at the repository root, outside any package."""
    spec = importlib.util.spec_from_file_location(
        "hatch_build", ROOT / "hatch_build.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tarball(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "pkg-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, BytesIO(data))
    return path


def test_build_hook_rejects_a_tarball_whose_integrity_differs(tmp_path):
    hatch_build = load_hatch_build()
    tarball = _tarball(tmp_path, {"package/x.js": b"tampered"})

    with pytest.raises(hatch_build.VendorError, match="integrity mismatch"):
        hatch_build.verify_integrity(tarball, "sha512-" + "A" * 86 + "==")


def test_build_hook_extracts_only_the_pinned_members_under_versioned_names(tmp_path):
    hatch_build = load_hatch_build()
    tarball = _tarball(
        tmp_path,
        {
            "package/umd/lib.min.js": b"lib",
            "package/LICENSE": b"MIT",
            "package/other.js": b"unused",
        },
    )
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    integrity = "sha512-" + base64.b64encode(digest).decode()
    package = hatch_build.NpmPackage(
        name="lib",
        version="1.0.0",
        integrity=integrity,
        files={"lib": "package/umd/lib.min.js"},
    )
    out = tmp_path / "out"
    out.mkdir()

    hatch_build.verify_integrity(tarball, integrity)
    hatch_build.extract(package, tarball, out)

    assert sorted(p.name for p in out.iterdir()) == [
        "lib-1.0.0.LICENSE.txt",
        "lib-1.0.0.min.js",
    ]
    assert (out / "lib-1.0.0.min.js").read_bytes() == b"lib"


def test_the_installed_assets_are_the_pinned_versions():
    hatch_build = load_hatch_build()

    assert hatch_build.is_up_to_date(graphiql.VENDOR_DIR)
