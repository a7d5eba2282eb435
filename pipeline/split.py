"""Split a scanned stack into dossiers.

Each dossier starts with its one-stop receipt; a separator sheet ends a dossier and is
dropped. Pages before the first receipt form a dossier of their own (a stack that does
not start with a receipt loses nothing). A file with neither stays one dossier.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.classify import PageKind


def plan_dossiers(kinds: Sequence[PageKind]) -> list[list[int]]:
    """Page indices of each dossier, in order; separators appear in none."""
    groups: list[list[int]] = []
    current: list[int] = []
    for index, kind in enumerate(kinds):
        if kind is PageKind.SEPARATOR:
            if current:
                groups.append(current)
            current = []
            continue
        if kind is PageKind.RECEIPT and current and _has_content(current, kinds):
            groups.append(current)
            current = []
        current.append(index)
    if current:
        groups.append(current)
    if not groups and kinds:
        # Nothing but separators: keep them, a dossier must never vanish.
        groups.append(list(range(len(kinds))))
    return groups


def _has_content(group: Sequence[int], kinds: Sequence[PageKind]) -> bool:
    """A group of only blank pages (a blank back before the receipt) joins the next one."""
    return any(kinds[i] is not PageKind.BLANK for i in group)
