"""Stop the server tasks this hub started but its database does not know, when the hub starts.

A server task can outlive its record: RunTask succeeded while the hub was being stopped (a
deployment, a crash, a Fargate retirement), so the task ARN never reached the database. Nobody
would ever route to it or cull it, and it would be billed until someone noticed. At start-up,
before it serves anyone, the hub lists the running tasks it started in its cluster, keeps those
its database records (each spawner's `task_arn`) and stops the rest. Only tasks tagged with this
hub's identity (`labcatalog:hub`) are candidates, so one hub never stops another's.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from .ecs_spawner import HUB_TAG, STARTED_BY

REASON = "Stopped by JupyterHub at start-up: not in the hub's database (orphaned)"
DESCRIBE_BATCH = 100  # DescribeTasks takes at most 100 tasks

log = logging.getLogger(__name__)


def known_task_arns(db_file: Path) -> set[str]:
    """The task ARNs the hub database records in its spawners' state (none if no database)."""
    if not db_file.exists():
        return set()
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        try:
            rows = db.execute("SELECT state FROM spawners WHERE state IS NOT NULL").fetchall()
        except sqlite3.OperationalError:  # a database JupyterHub has not created tables in
            return set()
    arns = set()
    for (text,) in rows:
        state = json.loads(text) if isinstance(text, str) else text
        if isinstance(state, dict) and state.get("task_arn"):
            arns.add(state["task_arn"])
    return arns


def _running_task_arns(ecs: Any, cluster: str) -> list[str]:
    arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, startedBy=STARTED_BY, desiredStatus="RUNNING"
    ):
        arns += page["taskArns"]
    return arns


def orphaned_tasks(ecs: Any, cluster: str, hub_id: str, known: Iterable[str]) -> list[str]:
    """Running tasks in `cluster` tagged as `hub_id`'s that are not among `known`."""
    known = set(known)
    candidates = [arn for arn in _running_task_arns(ecs, cluster) if arn not in known]
    orphans = []
    for start in range(0, len(candidates), DESCRIBE_BATCH):
        batch = candidates[start : start + DESCRIBE_BATCH]
        described = ecs.describe_tasks(cluster=cluster, tasks=batch, include=["TAGS"])
        for task in described.get("tasks", []):
            tags = {tag.get("key"): tag.get("value") for tag in task.get("tags", [])}
            if tags.get(HUB_TAG) == hub_id:
                orphans.append(task["taskArn"])
    return sorted(orphans)


def reap(ecs: Any, cluster: str, hub_id: str, db_file: Path) -> list[str]:
    """Stop this hub's running tasks that `db_file` does not record; returns their ARNs."""
    if not hub_id:
        raise ValueError("a hub without an identity cannot tell its tasks from another hub's")
    orphans = orphaned_tasks(ecs, cluster, hub_id, known_task_arns(db_file))
    for arn in orphans:
        log.warning("stopping orphaned server task %s (not in the hub database)", arn)
        ecs.stop_task(cluster=cluster, task=arn, reason=REASON)
    return orphans
