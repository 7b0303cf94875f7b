"""The one owner of the build folder's layout (`build/` by default).

A build is one `<stack>.template.json` per stack (its path made by `build.stacks()`, the same
across versions, so a version bump reviews as a diff; a tier's stack nested in the platform's
at `platform/<tier>.template.json`, a product's for a tier at `<product>/<tier>.template.json`)
and `manifest.json`, which lists each template with its stack, its product version, sha256, size
and resource count. This module writes a build, reads one back (checking the manifest's schema
and every template's hash), finds a stack's template and version, and says how a folder differs
from a fresh build (missing, differing and stray files). `build`, `publish` and `cost` know
build/ only through it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.model.problems import UserError

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "labcatalog-manifest/v2"
# The files a build owns besides its manifest; only these are ever removed as strays.
TEMPLATE_SUFFIX = ".template.json"


@dataclass(frozen=True)
class Artifact:
    """One file of a build: its path under the build folder and its exact text.

    A template also names its stack (`platform`, `shared-hub`, ...), its resource count and, for a
    product, its version; the manifest has none of these.
    """

    path: str
    text: str
    resources: int | None = None
    stack: str | None = None
    version: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def size(self) -> int:
        return len(self.text.encode())


def manifest(templates: Iterable[Artifact]) -> Artifact:
    """`manifest.json`: each template's stack, version, sha256, size and resource count."""
    entries = {}
    for template in sorted(templates, key=lambda a: a.path):
        entry = {
            "resources": template.resources,
            "sha256": template.sha256,
            "size": template.size,
            "stack": template.stack,
        }
        if template.version is not None:
            entry["version"] = template.version
        entries[template.path] = entry
    text = json.dumps({"schema": MANIFEST_SCHEMA, "templates": entries}, indent=2, sort_keys=True)
    return Artifact(MANIFEST, text + "\n")


@dataclass(frozen=True)
class Build:
    """The files of one build, generated just now or read back from a build folder."""

    files: tuple[Artifact, ...]

    @classmethod
    def of(cls, templates: Iterable[Artifact]) -> Build:
        """A build of these templates and the manifest that lists them."""
        templates = tuple(templates)
        return cls((*templates, manifest(templates)))

    @property
    def templates(self) -> tuple[Artifact, ...]:
        return tuple(f for f in self.files if f.path != MANIFEST)

    def template(self, stack: str) -> Artifact | None:
        """The template of `stack` (`platform`, `platform/<tier>`, `<product key>/<tier>`), or
        None if the build has none."""
        return next((t for t in self.templates if t.stack == stack), None)

    def version(self, stack: str) -> str | None:
        """The version the build holds of a product, or None."""
        template = self.template(stack)
        return template.version if template else None


def _rebuild_hint(outdir: Path) -> str:
    return f"run: labcatalog build -o {outdir}"


def manifest_entries(text: str, where: Path) -> dict[str, dict]:
    """The `templates` of a manifest's text, after checking its schema; `UserError` if wrong."""
    hint = _rebuild_hint(where.parent)
    try:
        document = json.loads(text)
        schema, entries = document.get("schema"), document["templates"]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UserError(f"{where} cannot be read ({err}); {hint}") from None
    if schema != MANIFEST_SCHEMA:
        raise UserError(
            f"{where} has schema {schema!r}, not {MANIFEST_SCHEMA!r}: it was written by another "
            f"version of labcatalog; {hint}"
        )
    problems = [
        f"{path}: {entry!r}"
        for path, entry in sorted(entries.items())
        if not isinstance(entry, dict)
        or not isinstance(entry.get("stack"), str)
        or not isinstance(entry.get("sha256"), str)
    ]
    if problems:
        listed = "\n".join(f"  {line}" for line in problems)
        raise UserError(f"{where} has entries without a stack or sha256:\n{listed}\n{hint}")
    return entries


def read(outdir: Path) -> Build:
    """The build in `outdir`, found through its manifest; `UserError` if a listed file is missing
    or no longer has the hash the manifest records."""
    hint = _rebuild_hint(outdir)
    where = outdir / MANIFEST
    try:
        text = where.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"{where} does not exist, so there is no build to read; {hint}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{where} cannot be read ({err}); {hint}") from None
    files, stale = [], []
    for path, entry in sorted(manifest_entries(text, where).items()):
        try:
            # Bytes decoded as they are (no newline translation), so hashes are of the file.
            body = (outdir / path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            stale.append(f"{outdir / path} (missing)")
            continue
        stack, version = entry["stack"], entry.get("version")
        template = Artifact(path, body, entry.get("resources"), stack, version)
        if template.sha256 != entry["sha256"]:
            stale.append(f"{outdir / path} (differs from the manifest)")
        files.append(template)
    if stale:
        listed = "\n".join(f"  {line}" for line in stale)
        raise UserError(f"{outdir} is stale or incomplete:\n{listed}\n{hint}")
    return Build((*files, Artifact(MANIFEST, text)))


def _owned(outdir: Path) -> bool:
    """Whether `outdir` is a build folder: it holds a manifest written by labcatalog.

    Strays are only looked for there, so `build -o` pointed at another folder removes nothing.
    """
    try:
        schema = json.loads((outdir / MANIFEST).read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(schema, str) and schema.startswith("labcatalog-manifest/")


def strays(files: Iterable[Artifact], outdir: Path) -> list[str]:
    """Templates under `outdir` that this build does not produce (only in a build folder)."""
    if not _owned(outdir):
        return []
    produced = {f.path for f in files}
    return sorted(
        path
        for path in (p.relative_to(outdir).as_posix() for p in outdir.rglob(f"*{TEMPLATE_SUFFIX}"))
        if path not in produced and (outdir / path).is_file()
    )


def differences(files: Iterable[Artifact], outdir: Path) -> list[str]:
    """Paths under `outdir` that are missing, differ from `files`, or are strays, each with why."""
    files = list(files)
    found = []
    for artifact in files:
        try:
            current = (outdir / artifact.path).read_bytes()
        except OSError:
            found.append(f"{artifact.path} (missing)")
            continue
        if current != artifact.text.encode():
            found.append(f"{artifact.path} (differs)")
    found += [f"{path} (stray: no longer produced)" for path in strays(files, outdir)]
    return found


def require_current(
    build: Build, portfolio_path: Path, outdir: Path, risk: str, then: str = ""
) -> Build:
    """`build`, if `outdir` holds exactly it; else `UserError` naming the files that differ.

    `risk` says what would go wrong with a stale build; `then` what to do after rebuilding. The
    build returned is the one in memory, so callers need not read `outdir` again.
    """
    found = differences(build.files, outdir)
    if found:
        listed = "\n".join(f"  {outdir / path}" for path in found)
        raise UserError(
            f"{outdir} is out of date with {portfolio_path} and the code, so {risk}:\n{listed}\n"
            f"run: labcatalog build -p {portfolio_path} -o {outdir}{then}"
        )
    return build


@dataclass(frozen=True)
class Written:
    """What `write` changed: the files it wrote and the stray templates it removed."""

    files: tuple[Artifact, ...]
    removed: tuple[str, ...]


def _reason(err: OSError) -> str:
    if isinstance(err, (NotADirectoryError, FileExistsError)):
        return f"{err.filename} is a file, so nothing can be written under it"
    if isinstance(err, PermissionError):
        return f"permission denied on {err.filename}"
    return f"{err.strerror or err} ({err.filename})" if err.filename else str(err)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stage(files: list[Artifact], stage: Path) -> None:
    for artifact in files:
        target = stage / artifact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(artifact.text)


def _changed(files: list[Artifact], outdir: Path) -> list[Artifact]:
    changed = []
    for artifact in files:
        target = outdir / artifact.path
        try:
            if target.is_file() and target.read_bytes() == artifact.text.encode():
                continue
        except OSError:
            pass
        changed.append(artifact)
    return changed


def write(files: Iterable[Artifact], outdir: Path) -> Written:
    """Make `outdir` hold this build: write the files that changed, the manifest last; then remove
    the templates it no longer produces (and folders that leaves empty).

    Every changed file is first written into a temporary folder beside its target (inside
    `outdir`, or beside a new `outdir`), then renamed into place; so a folder that cannot be
    written, or a path under a file, fails before anything changes (`UserError`, no traceback),
    and an interrupted write leaves a manifest that no longer matches, which `read` refuses.
    """
    files = sorted(files, key=lambda f: f.path == MANIFEST)
    try:
        return _write(files, outdir)
    except OSError as err:
        raise UserError(
            f"cannot write the build to {outdir}: {_reason(err)}; nothing was written. "
            "Choose another folder with -o OUTDIR, or fix its permissions"
        ) from None


def _write(files: list[Artifact], outdir: Path) -> Written:
    if outdir.exists() and not outdir.is_dir():
        raise NotADirectoryError(20, "not a directory", str(outdir))
    if not outdir.exists():
        # A new folder appears whole: staged beside it, then renamed.
        outdir.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=outdir.parent, prefix=f".{outdir.name}.", suffix=".tmp"))
        try:
            _stage(files, stage)
            stage.chmod(0o777 & ~_umask())
            os.rename(stage, outdir)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return Written(tuple(files), ())
    removed = strays(files, outdir)
    changed = _changed(files, outdir)
    if changed:
        stage = Path(tempfile.mkdtemp(dir=outdir, prefix=".labcatalog-build.", suffix=".tmp"))
        try:
            _stage(changed, stage)
            for artifact in changed:  # the manifest last
                target = outdir / artifact.path
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / artifact.path, target)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    for path in removed:
        target = outdir / path
        target.unlink()
        for folder in target.parents:
            if folder == outdir or outdir not in folder.parents or any(folder.iterdir()):
                break
            folder.rmdir()
    return Written(tuple(changed), tuple(removed))
