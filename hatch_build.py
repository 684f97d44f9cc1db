"""Vendor GraphiQL and React into ``gateway/static/vendor/`` at build time.

The gateway serves GraphiQL itself so that it works offline (see
``gateway/http/graphiql.py``). The browser files come from the npm registry, pinned
to exact versions and checked against the registry's sha512 integrity, and are
never committed: this module fetches them with ``npm pack`` when they are
missing.

It runs in three ways, all doing the same thing:

* as hatchling's custom build hook (``[tool.hatch.build.hooks.custom]`` in
  ``pyproject.toml``), on every wheel, editable install and sdist, adding the
  git-ignored files to the build as artifacts;
* as a script, ``python hatch_build.py [--force]``, to refresh them by hand;
* as a function, ``vendor_assets()``.

GraphiQL 3 is the last major release shipped as a browser bundle (4 and 5 are
ESM-only and need a bundler), which is why the versions are pinned here.
"""

# No ``from __future__ import annotations``: hatchling loads this file without
# registering it in sys.modules, and dataclasses then fail on string annotations.
import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
VENDOR_DIR = ROOT / "gateway" / "static" / "vendor"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package and the files the page needs from its tarball.

    ``files`` maps a role (the key ``gateway/http/graphiql.py`` looks up in the
    manifest) to a member of the tarball. The vendored file name carries the
    version, so the gateway can serve it with an immutable cache header.
    """

    name: str
    version: str
    integrity: str
    files: dict[str, str]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        """The file name ``npm pack`` writes for a registry package."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def target(self, member: str) -> str:
        """Vendored name of a tarball member: ``graphiql.min.js`` of 3.8.3 →
        ``graphiql-3.8.3.min.js``."""
        stem, _, suffix = Path(member).name.partition(".")
        return f"{stem}-{self.version}.{suffix}"

    def members(self) -> dict[str, str]:
        """Tarball member → vendored file name, the package's license included."""
        names = {member: self.target(member) for member in self.files.values()}
        return {**names, "package/LICENSE": f"{self.name}-{self.version}.LICENSE.txt"}


PACKAGES = (
    NpmPackage(
        name="react",
        version="18.3.1",
        integrity="sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        files={"react": "package/umd/react.production.min.js"},
    ),
    NpmPackage(
        name="react-dom",
        version="18.3.1",
        integrity="sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        files={"react-dom": "package/umd/react-dom.production.min.js"},
    ),
    NpmPackage(
        name="graphiql",
        version="3.8.3",
        integrity="sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        files={
            "graphiql": "package/graphiql.min.js",
            "graphiql-css": "package/graphiql.min.css",
        },
    ),
)


class VendorError(RuntimeError):
    """The assets could not be fetched or did not match their pinned integrity."""


def expected_manifest(packages: tuple[NpmPackage, ...] = PACKAGES) -> dict[str, str]:
    """Role → vendored file name, as ``gateway/http/graphiql.py`` reads it."""
    return {
        role: package.target(member)
        for package in packages
        for role, member in package.files.items()
    }


def _expected_files(packages: tuple[NpmPackage, ...]) -> list[str]:
    names = [name for package in packages for name in package.members().values()]
    return [*names, MANIFEST]


def is_up_to_date(
    target: Path = VENDOR_DIR, packages: tuple[NpmPackage, ...] = PACKAGES
) -> bool:
    """True when ``target`` holds exactly the pinned versions' files."""
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest != expected_manifest(packages):
        return False
    return all((target / name).is_file() for name in _expected_files(packages))


def verify_integrity(tarball: Path, integrity: str) -> None:
    """Check a tarball against an npm ``sha512-…`` integrity string.

    ``npm pack`` already checks the registry's own digest; checking again
    against the pinned value means a re-published or substituted tarball
    fails the build instead of shipping.
    """
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm, tarball.read_bytes()).digest()
    actual = base64.b64encode(digest).decode("ascii")
    if actual != expected:
        raise VendorError(
            f"{tarball.name}: integrity mismatch, expected {integrity}, "
            f"got {algorithm}-{actual}"
        )


def extract(package: NpmPackage, tarball: Path, target: Path) -> None:
    """Copy the needed members (and the license) out of a verified tarball.

    Members are read by their known names and written under names chosen
    here, so nothing in the archive decides where a file lands.
    """
    with tarfile.open(tarball, mode="r:gz") as archive:
        for member, name in package.members().items():
            try:
                source = archive.extractfile(member)
            except KeyError:
                source = None
            if source is None:
                raise VendorError(f"{package.spec}: {member} is not in {tarball.name}")
            (target / name).write_bytes(source.read())


def npm_pack(packages: tuple[NpmPackage, ...], destination: Path) -> None:
    """Download the packages' tarballs from the npm registry into ``destination``."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            "npm is needed to fetch GraphiQL and React "
            f"({', '.join(p.spec for p in packages)}) into {VENDOR_DIR}, "
            "but it is not on PATH. Install Node.js and npm (Debian: "
            "apt-get install npm), then build again or run `python hatch_build.py`."
        )
    command = [
        npm,
        "pack",
        "--ignore-scripts",
        "--silent",
        "--pack-destination",
        str(destination),
        *(package.spec for package in packages),
    ]
    result = subprocess.run(
        command, cwd=destination, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise VendorError(
            f"`{' '.join(command)}` failed with exit code {result.returncode}:\n"
            f"{result.stderr.strip()}"
        )


def vendor_assets(
    target: Path = VENDOR_DIR,
    *,
    packages: tuple[NpmPackage, ...] = PACKAGES,
    force: bool = False,
) -> list[Path]:
    """Make ``target`` hold the pinned assets and return their paths.

    Does nothing when they are already there (the usual rebuild, and a build
    from an sdist, which carries them). Otherwise fetches all packages into a
    temporary directory and swaps the whole folder in, so a failed or partial
    download never leaves a mix of versions behind.
    """
    if force or not is_up_to_date(target, packages):
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cg-vendor-") as tmp:
            downloads, staging = Path(tmp) / "npm", Path(tmp) / "vendor"
            downloads.mkdir()
            staging.mkdir()
            npm_pack(packages, downloads)
            for package in packages:
                tarball = downloads / package.tarball
                verify_integrity(tarball, package.integrity)
                extract(package, tarball, staging)
            manifest = json.dumps(expected_manifest(packages), indent=2) + "\n"
            (staging / MANIFEST).write_text(manifest, encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(staging, target)
    return [target / name for name in _expected_files(packages)]


class VendorAssetsBuildHook(BuildHookInterface):
    """Hatchling hook: vendor the assets and add them to the build.

    They are git-ignored, so hatchling would leave them out; listing them as
    artifacts puts them in wheels and sdists. An editable install imports
    ``gateway`` from the source tree, where the files now are.
    """

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        paths = vendor_assets(root / VENDOR_DIR.relative_to(ROOT))
        build_data["artifacts"].extend(
            "/" + path.relative_to(root).as_posix() for path in paths
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fetch GraphiQL and React from npm into gateway/static/vendor/."
    )
    parser.add_argument(
        "--force", action="store_true", help="fetch again even when up to date"
    )
    args = parser.parse_args(argv)
    try:
        paths = vendor_assets(force=args.force)
    except VendorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
