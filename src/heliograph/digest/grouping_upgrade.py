"""Issues made before grouping v2 keep receiving their events.

Grouping v2 gives some events a different hash than v1 did (log calls with
arguments, synthetic exceptions, JavaScript frames, exception groups of one
kind). Without help, the first such event after an upgrade would open a new
issue, with a "new issue" alert, and the old one would fall silent. Instead
digest computes both hashes (:attr:`heliograph.digest.grouping.Grouping.v1_hash`)
and, while no issue has the v2 hash but one has the v1 hash, files the event
under the v1 hash: into the issue users already know. One indexed lookup per
project per batch, and only for events whose two hashes differ.

Projects that never had a v1 issue are unaffected: the lookup finds nothing
and every event keeps its v2 hash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

from heliograph.store.base import GroupedEvent

if TYPE_CHECKING:
    from heliograph.store.contract import DigestSink

__all__ = ["keep_v1_issues"]


def keep_v1_issues(store: DigestSink, errors: list[GroupedEvent]) -> None:
    """Point each error whose v2 issue does not exist, but whose v1 issue does, at the latter."""
    hashes: dict[int, set[str]] = defaultdict(set)
    for grouped in errors:
        if grouped.v1_hash is not None:
            hashes[grouped.event.project_id].update((grouped.group_hash, grouped.v1_hash))
    for project_id, wanted in hashes.items():
        present = store.issue_hashes_present(project_id, sorted(wanted))
        if not present:
            continue
        for index, grouped in enumerate(errors):
            if (
                grouped.event.project_id == project_id
                and grouped.v1_hash in present
                and grouped.group_hash not in present
            ):
                errors[index] = replace(grouped, group_hash=grouped.v1_hash)
