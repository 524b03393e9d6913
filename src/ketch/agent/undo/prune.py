"""Forgetting old checkpoints: `ketch undo --prune DAYS`.

The shadow store keeps every snapshot a session made, so it only grows. Pruning drops whole
sessions whose newest checkpoint is older than the cut-off: their refs (`sessions/<id>`,
`undo/<id>`) and their lines in the checkpoint log, then `git gc` deletes what nothing
reaches any more. It runs only when the person asks (no hidden background work), under the
store's lock, so no snapshot is being written meanwhile. The store's own index file is named
in the environment (`GIT_INDEX_FILE`), so gc keeps the blobs it lists: the next snapshot
stays a cheap incremental one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from ketch.agent.undo.checkpoints import CheckpointLog
from ketch.agent.undo.shadow_store import ShadowStore
from ketch.atomic_write import write_atomic


@dataclass
class PruneResult:
    sessions: int
    checkpoints: int
    kept_sessions: int
    bytes_before: int
    bytes_after: int


def store_bytes(store: ShadowStore) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(store.git_dir):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def prune(store: ShadowStore, older_than_days: float, now: float | None = None) -> PruneResult:
    """Drop the sessions whose newest checkpoint is older than `older_than_days`."""
    cutoff = (time.time() if now is None else now) - older_than_days * 86400
    log = CheckpointLog.of(store)
    before = store_bytes(store)
    with store.lock():
        records = log.read()
        newest: dict[str, float] = {}
        for record in records:
            newest[record.session_id] = max(newest.get(record.session_id, 0.0), record.ts)
        old = {session for session, ts in newest.items() if ts < cutoff}
        if old:
            refs = store.git("for-each-ref", "--format=%(refname)", "refs/ketch/").decode().split()
            for ref in refs:
                if ref.rsplit("/", 1)[-1] in old:
                    store.git("update-ref", "-d", ref)
            _rewrite_log(log, old)
            store.git("gc", "--prune=now", "--quiet")
    return PruneResult(sessions=len(old), checkpoints=sum(1 for r in records if r.session_id in old),
                       kept_sessions=len(newest) - len(old), bytes_before=before, bytes_after=store_bytes(store))


def _rewrite_log(log: CheckpointLog, dropped: set[str]) -> None:
    """The log without the dropped sessions' lines, replaced atomically (a torn line goes too)."""
    kept = []
    for line in log.path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("session_id") not in dropped:
            kept.append(line + "\n")
    write_atomic(log.path, "".join(kept).encode("utf-8"), mode=0o600)
