"""The hub image's content tag: the hash buildspec.yml computes over this folder, in Python.

A product template names the image it runs by this tag (its default image), so a change of any
file here changes the templates, and the immutability rule then asks for a version bump. The
buildspec tags the image it pushes with the same hash of the same files (the zip of this folder
that CodeBuild builds); tests/test_hub_image_content.py runs the buildspec's own command to prove
the two agree.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
TAG_PREFIX = "src-"
# Made by Python when the hub's modules are imported here; never part of the image's source.
IGNORED = ("__pycache__",)


def source_files(folder: Path | None = None) -> dict[str, bytes]:
    """Every file of the image's source (this folder unless another is given), by path
    relative to the folder (POSIX separators)."""
    folder = folder or FOLDER
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part in IGNORED for part in path.parts)
    }


def content_tag(files: dict[str, bytes]) -> str:
    """`find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum`, its first 16 hex digits."""
    listing = "".join(
        f"{hashlib.sha256(data).hexdigest()}  ./{name}\n"
        for name, data in sorted(files.items(), key=lambda item: item[0].encode())
    )
    return TAG_PREFIX + hashlib.sha256(listing.encode()).hexdigest()[:16]


@cache
def image_tag() -> str:
    """The tag of the image built from this folder as it is now."""
    return content_tag(source_files())
