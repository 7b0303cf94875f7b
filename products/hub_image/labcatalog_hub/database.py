"""The hub database on the state directory: one writer only, backed up before it is upgraded.

The database is SQLite on the state directory (EFS on Fargate, the data volume on EC2). SQLite
over NFS is safe only with one writer, so a hub holds a lock on the state directory for its
whole life (`hold_lock`): a second hub on the same state waits for it, then refuses to start.
The shared hub's deployment configuration (at most 100 %, at least 0 % healthy) stops the old
hub before it starts the new one, so the lock is the second guard, not the only one.

A new JupyterHub release may change the database schema; it then refuses to start until the
database is upgraded. `upgrade` runs that upgrade at start-up, after a consistent copy of the
database has been written to `backups/` on the same state directory.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

LOCK_FILE = "hub.lock"
BACKUPS = "backups"
LOCK_WAIT_SECONDS = 120  # an NFS lock of a hub that died is released when its lease expires

_held: list[IO] = []  # the lock lives as long as the hub process


class AnotherHubIsRunning(SystemExit):
    """A second hub on the same state directory; it must not start."""


def hold_lock(state_dir: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> None:
    """Lock `state_dir` for this process's lifetime; exit if another hub keeps it locked.

    POSIX record locks (fcntl) are what NFS (EFS) carries between clients; the kernel drops
    them when the process ends, however it ends.
    """
    path = state_dir / LOCK_FILE
    handle = path.open("a+")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if time.monotonic() >= deadline:
                handle.close()
                raise AnotherHubIsRunning(
                    f"another hub holds {path} (its process: {_holder(path)}); two hubs on one "
                    "state directory would corrupt its database, so this one does not start"
                ) from None
            time.sleep(1)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
    handle.flush()
    _held.append(handle)


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def schema_revision(db_file: Path) -> str | None:
    """The alembic revision a database is at (None: no database, or no revision table)."""
    if not db_file.exists():
        return None
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def current_revision() -> str:
    """The revision this JupyterHub's database schema is at (its alembic head)."""
    from alembic.script import ScriptDirectory
    from jupyterhub.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from jupyterhub.dbutil import ALEMBIC_DIR

    try:
        return ScriptDirectory(ALEMBIC_DIR).get_revision(revision) is not None
    except CommandError:
        return False


def backup(db_file: Path, backups: Path, revision: str | None) -> Path:
    """A consistent copy of `db_file` (SQLite's online backup), named by time and revision."""
    backups.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backups / f"{db_file.name}.{stamp}.{revision or 'unversioned'}"
    with (
        closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)
    os.chmod(target, 0o600)
    return target


def upgrade(db_file: Path, backups: Path) -> Path | None:
    """Bring `db_file` to this JupyterHub's schema; returns the backup made first, if any.

    Nothing to do for a new hub (no database yet) or a current one. Otherwise the database is
    copied to `backups/` and then upgraded with JupyterHub's own migrations (`alembic upgrade
    head`, as `jupyterhub upgrade-db` runs them), in a child process so that alembic's logging
    set-up does not replace the hub's.
    """
    revision = schema_revision(db_file)
    if revision is None or revision == current_revision():
        return None  # JupyterHub creates (and stamps) a new database itself
    if not _known(revision):
        raise SystemExit(
            f"{db_file} is at schema {revision}, which this JupyterHub does not know: it was "
            f"written by a newer release. Run that release, or restore a copy from {backups}."
        )
    copy = backup(db_file, backups, revision)
    from jupyterhub.dbutil import write_alembic_ini

    with tempfile.TemporaryDirectory() as folder:
        ini = Path(folder) / "alembic.ini"
        write_alembic_ini(str(ini), f"sqlite:///{db_file}")
        subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
            check=True,
            cwd=folder,
        )
    return copy
