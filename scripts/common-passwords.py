#!/usr/bin/env python3
"""Writes shared/data/common-passwords.txt: the common-password list of the `passwords` crate
(the version Cargo.lock pins), sorted in byte order, one per line.

The crate compiles its list as a static array of 99,838 string slices, which costs every process
that links it as many load-time relocations (about 1.7 ms of cold start, measured); as one text
blob the same list costs none. shared/src/common_passwords.rs binary-searches the blob, and its
unit test checks it is exactly the crate's list.

    python3 scripts/common-passwords.py       # after `cargo fetch`
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    crates = [p for p in metadata["packages"] if p["name"] == "passwords"]
    if len(crates) != 1:
        print(f"expected one `passwords` package, found {len(crates)}", file=sys.stderr)
        return 1
    source = Path(crates[0]["manifest_path"]).parent / "data" / "common-passwords.json"
    entries = json.loads(source.read_text(encoding="utf-8"))
    if any("\n" in entry for entry in entries):
        print("an entry holds a newline", file=sys.stderr)
        return 1
    ordered = sorted(set(entries), key=lambda entry: entry.encode("utf-8"))
    target = ROOT / "shared" / "data" / "common-passwords.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(ordered) + "\n", encoding="utf-8")
    print(f"{target.relative_to(ROOT)}: {len(ordered)} passwords from passwords "
          f"{crates[0]['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
