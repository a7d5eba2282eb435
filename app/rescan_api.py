"""``POST /api/dossiers/{id}/rescan``: the counter that took a dossier in (or an operator)
replaces or adds its pages while the citizen is still there (issue 26, ``flows.rescan``).

The body goes through the upload gate like a batch (caller and size checked before it is
read); the file is checked as any upload is (whole or refused, 422 naming it); the answer is
202 with the submission's number, and the batch page's verdict follows as it does for an
upload. Another counter's dossier is a 404, as a missing one is.
"""

from __future__ import annotations

import re
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile

from app.auth import CounterOrOperator, visible_dossier
from app.uploads import _check_uploads, _stage
from config import Settings
from flows.rescan import RescanRefused, rescan_dossier
from models import DossierStatus
from models.errors import StorageError
from storage import keys

RESCAN_PATH = re.compile(r"/api/dossiers/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}/rescan")
_PAGES = re.compile(r"\s*\d{1,4}\s*(?:,\s*\d{1,4}\s*){0,63}")


def rescan_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["counter"])

    @router.post("/api/dossiers/{dossier_id}/rescan", status_code=202)
    def rescan(
        request: Request,
        dossier_id: str,
        principal: CounterOrOperator,
        file: Annotated[UploadFile, File(description="the rescanned page(s)")],
        replace: Annotated[
            str,
            Form(
                max_length=320, description="dossier pages (1-based, comma-separated) it replaces"
            ),
        ] = "",
    ) -> dict[str, Any]:
        # 404 unless its own counter's (or an operator), decided before it is loaded.
        dossier = visible_dossier(settings, principal, dossier_id)
        if dossier.status is DossierStatus.DUPLICATE:
            raise HTTPException(409, "a duplicate holds no pages of its own: rescan the first")
        if replace.strip() and not _PAGES.fullmatch(replace):
            raise HTTPException(422, "replace: page numbers separated by commas, e.g. 2 or 2,3")
        pages = [int(part) for part in replace.split(",") if part.strip()]
        staging = settings.data_dir / "incoming" / f"rescan-{dossier_id}-{keys.new_batch_id()}"
        try:
            names, paths, _size = _stage(settings, [file], staging)
            (document,) = _check_uploads(settings, names, paths)  # 422/415 naming the file
            try:
                result = rescan_dossier(
                    settings, dossier_id, document.path, document.name, replace=pages,
                    by=principal.name,
                )  # fmt: skip
            except RescanRefused as exc:
                raise HTTPException(409, exc.message) from None
            except StorageError as exc:
                raise HTTPException(409, f"not now: {exc.message}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # Read again even when the batch's other files are still being read right now.
        request.app.state.runner.submit_again(result.batch_id)
        return {
            "dossier_id": result.dossier_id,
            "batch_id": result.batch_id,
            "submission": result.number,
            "pages": result.pages,
            "replaces": list(result.replaces),
            "status": "received",
        }

    return router
