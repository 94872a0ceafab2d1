"""Vendor the browser tokenizer (js-tiktoken's ``lite`` build) into ``ui/vendor/js-tiktoken/``.

The token estimator counts as you type with js-tiktoken's ``Tiktoken`` class, fed with the same
``.tiktoken`` rank files the server uses (``data/tokenizers/``). This script fetches the pinned
release from the npm registry with ``npm pack``, checks the tarball against the pinned npm
``integrity`` (SHA-512, as ``npm view js-tiktoken@VERSION dist.integrity`` prints it), and copies
the one file the lite build consists of, unchanged, with a ``VENDORED.json`` recording the
package, version, tarball, integrity and each copied file's SHA-256. Nothing is built: the app
reads the copied file as it is; ``tests/test_vendor_js.py`` checks it against ``VENDORED.json``.

The package ships no LICENSE file (its package.json says MIT); ``LICENSE`` beside the vendored
file is the repository's, https://github.com/dqbd/tiktoken/blob/4c8b748e07992c00386f3180af5c574b27b65139/LICENSE

Usage: ``python scripts/vendor_js_tokenizer.py`` from the repository root (needs ``npm`` and the
registry; the app and its tests never do). To update, change VERSION and INTEGRITY together.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "js-tiktoken"
VERSION = "1.0.21"
INTEGRITY = "sha512-biOj/6M5qdgx5TKjDnFT1ymSpM5tbd3ylwDtrQvFQSu0Z7bBYko2dF+W/aUkXUPuk6IVpRxk/3Q2sHOzGlS36g=="
"""``npm view js-tiktoken@1.0.21 dist.integrity`` (registry.npmjs.org, 2026-11-27)."""
LITE_ENTRY = "package/dist/lite.js"
"""The lite build's entry; it re-exports one chunk, the file we copy."""
DESTINATION = ROOT / "ui" / "vendor" / PACKAGE


def npm_integrity(data: bytes) -> str:
    """The npm ``integrity`` string of a tarball: ``sha512-`` + base64 of its SHA-512."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", folder],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(f"npm pack {PACKAGE}@{VERSION} failed: {result.stderr.strip()[-500:]}", file=sys.stderr)
            return 1
        tarball = Path(folder) / json.loads(result.stdout)[0]["filename"]
        data = tarball.read_bytes()
        if npm_integrity(data) != INTEGRITY:
            print(f"{tarball.name}: integrity {npm_integrity(data)} is not the pinned {INTEGRITY}", file=sys.stderr)
            return 1
        with tarfile.open(tarball) as archive:
            manifest = json.load(archive.extractfile("package/package.json"))
            lite = archive.extractfile(LITE_ENTRY).read().decode()
            # lite.js is one line: export { Tiktoken, ... } from './chunk-XXXX.js';
            chunk_name = lite.split("from './", 1)[1].split("'", 1)[0]
            chunk = archive.extractfile(f"package/dist/{chunk_name}").read()
    if manifest.get("license") != "MIT" or manifest.get("version") != VERSION:
        print(f"unexpected package.json: license {manifest.get('license')}, version {manifest.get('version')}")
        return 1
    DESTINATION.mkdir(parents=True, exist_ok=True)
    (DESTINATION / chunk_name).write_bytes(chunk)
    record = {
        "package": PACKAGE,
        "version": VERSION,
        "tarball": f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz",
        "integrity": INTEGRITY,
        "license": manifest["license"],
        "dependencies": manifest.get("dependencies", {}),
        "entry": chunk_name,
        "files": {chunk_name: hashlib.sha256(chunk).hexdigest()},
        "fetched_by": "scripts/vendor_js_tokenizer.py",
    }
    (DESTINATION / "VENDORED.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{PACKAGE} {VERSION}: {chunk_name} ({len(chunk):,} bytes) written to {DESTINATION.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
