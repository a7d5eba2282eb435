"""Rescan in place (issue 26): a clerk replaces or adds pages of a dossier already taken in,
without starting over.

The new file is kept byte for byte as the dossier's next submission; the first original
stays where it was stored, untouched. The dossier is then read from one PDF holding its
pages in order, each rescanned page in the place of the page it replaces and any further
pages added at the end (``pipeline.combine``), and goes through the batch again: its pages
are read, its archive copy rebuilt and signed anew, and its manifest lists every
submission. The counter's verdict follows as for any upload.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from config import Settings
from flows import steps
from flows.runtime import metadata_store, object_store
from models import DossierInfo, DossierStatus, Submission
from models.errors import BadInputError, SohoaError
from pipeline.combine import PagePick, combine_pages
from pipeline.load import MediaType, SourceDocument, inspect_source
from storage import keys


class RescanRefused(SohoaError):
    """The dossier cannot take a rescan now (being read, split from a stack, bad pages)."""


@dataclass(frozen=True)
class RescanResult:
    dossier_id: str
    batch_id: str
    number: int  # the submission this rescan is (2 for the first rescan)
    pages: int  # the dossier's pages now
    replaces: tuple[int, ...]


def plan_pages(current: int, new: int, replace: Sequence[int]) -> list[tuple[str, int]]:
    """The dossier's pages after a rescan, as ("old"|"new", 0-based index) in order.

    The new file's first ``len(replace)`` pages take the places of the dossier pages
    ``replace`` (1-based, in the order given); its further pages are added at the end."""
    if len(set(replace)) != len(replace):
        raise RescanRefused("a page is named twice among the pages to replace")
    outside = [p for p in replace if not 1 <= p <= current]
    if outside:
        raise RescanRefused(f"the dossier has {current} page(s), no page {outside[0]}")
    if len(replace) > new:
        raise RescanRefused(f"{len(replace)} page(s) to replace but the new file has {new} page(s)")
    by_place = {page - 1: position for position, page in enumerate(replace)}
    plan = [("new", by_place[i]) if i in by_place else ("old", i) for i in range(current)]
    plan += [("new", position) for position in range(len(replace), new)]
    return plan


def rescan_dossier(
    settings: Settings,
    dossier_id: str,
    path: Path,
    name: str,
    *,
    replace: Sequence[int] = (),
    by: str | None = None,
) -> RescanResult:
    """Keep the new file, build the file the dossier is now read from, record both, and
    leave the dossier received (the caller sends its batch through processing again)."""
    meta, objects = metadata_store(settings), object_store(settings)
    dossier = meta.get_dossier(dossier_id)
    if dossier.source_dossier_id is not None:
        raise RescanRefused(
            f"dossier {dossier_id} was split from a scanned stack: rescan it as its own dossier"
        )
    if dossier.status not in (DossierStatus.ARCHIVED, DossierStatus.FAILED):
        raise RescanRefused(f"dossier {dossier_id} is {dossier.status}: rescan it once it is read")
    document, error = steps.inspect_file(settings, path, name)
    if document is None:
        raise BadInputError(name, error or "cannot be read")
    work = steps.dossier_work_dir(settings, dossier_id) / "rescan"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        current = _current_source(settings, dossier, work)
        current_pages = current.page_count if current is not None else 0
        plan = plan_pages(current_pages, document.page_count, replace)
        sources = {"new": document, "old": current}
        picks = [PagePick(_known(sources[origin]), index) for origin, index in plan]
        number = max((s.number for s in meta.submissions(dossier_id)), default=1) + 1
        media_type = str(document.media_type)
        kept = objects.put_file(
            keys.submission_key(dossier_id, number, media_type), path, media_type, write_once=True
        )
        if (kept.sha256, kept.size) != (document.sha256, document.size):
            raise BadInputError(name, "stored bytes differ from the upload")
        combined_path = combine_pages(picks, work / "dossier.pdf")
        combined = inspect_source(combined_path, name=name)
        source_key = keys.rescan_source_key(dossier_id, number)
        stored = objects.put_file(source_key, combined_path, MediaType.PDF, write_once=True)
        now = datetime.now(UTC)
        meta.record_rescan(
            dossier_id,
            Submission(
                dossier_id=dossier_id,
                number=number,
                object_key=kept.key,
                sha256=kept.sha256,
                size=kept.size,
                media_type=media_type,
                page_count=document.page_count,
                source_name=document.name,
                replaces=tuple(replace),
                submitted_at=now,
                submitted_by=by,
                source_key=source_key,
                source_sha256=stored.sha256,
            ),
            source_media_type=str(MediaType.PDF),
            source_size=stored.size,
            source_page_count=combined.page_count,
            submitted_at=now,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # This machine's copy of the earlier source must not be read for the new one.
    for cached in steps.dossier_work_dir(settings, dossier_id).glob("original.*"):
        cached.unlink(missing_ok=True)
    return RescanResult(dossier_id, dossier.batch_id, number, combined.page_count, tuple(replace))


def _known(source: SourceDocument | None) -> SourceDocument:
    assert source is not None  # plan_pages names no old page of a dossier without pages
    return source


def _current_source(settings: Settings, dossier: DossierInfo, work: Path) -> SourceDocument | None:
    """The file the dossier's pages are read from now, on this machine; None when the
    dossier has no readable pages (its first file was refused: the rescan replaces it)."""
    key = metadata_store(settings).original_key(dossier.dossier_id)
    if not key or not dossier.media_type or dossier.page_count == 0:
        return None
    local = work / f"current{Path(key).suffix}"
    object_store(settings).get_file(key, local)
    return inspect_source(local, name=dossier.source_name)
