"""Write the licence notices of every distribution the app ships into a `licenses/` folder.

Walks the runtime requirement tree of `mammolens` (no extras) through importlib.metadata, copies
each distribution's licence files (LICENSE*, COPYING*, NOTICE*, AUTHORS*, and PEP 639
`licenses/` folders) and writes THIRD_PARTY_NOTICES.txt listing name, version and licence.
Usage: python build_spec/collect_licenses.py OUT_DIR
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

LICENSE_NAME = re.compile(r"(^|/)(licen[cs]e|copying|notice|authors)[^/]*$", re.IGNORECASE)


def runtime_distributions(root: str = "mammolens") -> list[metadata.Distribution]:
    """The distribution `root` and everything its runtime (non-extra) requirements pull in."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an environment marker excluded it on this platform
        seen[key] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def licence_text(dist: metadata.Distribution) -> str:
    """The SPDX expression, else the first line of License, else the trove classifier."""
    meta = dist.metadata
    if meta.get("License-Expression"):
        return str(meta["License-Expression"])
    first_line = (meta.get("License") or "").strip().splitlines()[:1]
    if first_line and len(first_line[0]) < 80:
        return first_line[0]
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return classifiers[0].split("::")[-1].strip() if classifiers else "see licence files"


def copy_licence_files(dist: metadata.Distribution, out: Path) -> int:
    copied = 0
    for file in dist.files or []:
        if not LICENSE_NAME.search(str(file)) and "/licenses/" not in str(file):
            continue
        src = Path(dist.locate_file(file))
        if src.is_file() and src.suffix not in {".py", ".pyc", ".so", ".dll"}:
            dest = out / dist.metadata["Name"] / Path(str(file)).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            copied += 1
    return copied


COMMON_LICENSES = Path("/usr/share/common-licenses")  # Debian's full licence texts
SPDX_TO_COMMON = {"LGPL-3.0": ["LGPL-3", "GPL-3"], "GPL-3.0": ["GPL-3"], "Apache": ["Apache-2.0"]}


def copy_common_licence(dist: metadata.Distribution, out: Path) -> int:
    """For wheels that ship no licence file (PySide6, shiboken6): the full text of their licence."""
    copied = 0
    for spdx, names in SPDX_TO_COMMON.items():
        if spdx not in licence_text(dist):
            continue
        for name in names:
            if (COMMON_LICENSES / name).is_file():
                dest = out / dist.metadata["Name"] / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(COMMON_LICENSES / name, dest)
                copied += 1
    return copied


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "build/licenses")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines = ["Third-party software shipped in MammoLens", ""]
    for dist in runtime_distributions():
        n = copy_licence_files(dist, out) or copy_common_licence(dist, out)
        name, version = dist.metadata["Name"], dist.version
        lines.append(f"{name} {version}: {licence_text(dist)} ({n} licence file(s) in {name}/)")
    (out / "THIRD_PARTY_NOTICES.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"licence notices of {len(lines) - 2} distributions written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
