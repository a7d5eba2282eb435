"""Issue 27's routes: the handoff in the portal's shape, its papers behind expiring links,
the status an agency sends back, and an operator's resend of a dead push.

* ``GET /api/dossiers/{id}/handoff``: the archived dossier as ``pipeline.portal`` maps it
  (its agency's token, or an operator's; anyone else 404).
* ``GET /api/handoff/{id}/{n}.pdf?exp=&sig=``: paper ``n`` as its own signed PDF. The link
  is the credential (an agency's system fetches it as the portal's ``DuongDanTaiTepTin``):
  its HMAC and expiry are checked before anything is loaded; a bad or old link is a 403.
* ``POST /api/dossiers/{id}/status``: the agency's token only, its own archived dossiers;
  ``{"status": "received|in_progress|result_ready|returned", "at": ..., "note": ...}``.
* ``POST /ops/push/{outbox_id}/resend``: an operator's page form (the cookie's same-origin
  check, as every /ops form), a dead letter due again now.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from app.auth import Reader, page_user, require, visible_dossier
from config import Settings
from flows.handoff import HandoffError, check_link, handoff_document, paper_pdf
from flows.runtime import metadata_store, object_store
from models import Principal, Role
from models.errors import StorageError
from models.push import AgencyStatus, StatusReport
from storage import keys

AgencyOnly = Annotated[Principal, Depends(require(Role.AGENCY))]
OperatorPage = Annotated[Principal, Depends(page_user(Role.OPERATOR))]


class StatusBody(BaseModel):
    status: AgencyStatus
    at: datetime | None = Field(default=None, description="When, by the agency's clock")
    note: str | None = Field(default=None, max_length=500)


def base_url(settings: Settings, request: Request) -> str:
    return settings.public_base_url or str(request.base_url)


def handoff_router(settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.get("/api/dossiers/{dossier_id}/handoff", tags=["agency"])
    def handoff(request: Request, dossier_id: str, principal: Reader) -> dict[str, Any]:
        """The dossier in the national portal's DongBoHoSoMC shape; codes not known are
        empty and named in ``ThieuMa``."""
        visible_dossier(settings, principal, dossier_id)
        try:
            return handoff_document(settings, dossier_id, base_url(settings, request))
        except HandoffError as exc:
            raise HTTPException(exc.status, exc.message) from None

    @router.get("/api/handoff/{dossier_id}/{number}.pdf", tags=["agency"])
    def paper(dossier_id: str, number: int, exp: str = "", sig: str = "") -> Response:
        why = check_link(settings, dossier_id, number, exp, sig, now=time.time())
        if why is not None:  # nothing is loaded for a link that is not ours or too old
            raise HTTPException(403, why)
        try:
            keys.check_id(dossier_id)
            key = paper_pdf(settings, dossier_id, number)
        except ValueError:
            raise HTTPException(404, "no such dossier") from None
        except HandoffError as exc:
            raise HTTPException(exc.status, exc.message) from None
        except StorageError as exc:
            raise HTTPException(503, f"the paper cannot be made now: {exc.message}") from None
        stored = object_store(settings).stat(key)
        return StreamingResponse(
            object_store(settings).iter_chunks(key),
            media_type="application/pdf",
            headers={
                "Content-Length": str(stored.size),
                "Content-Disposition": f'attachment; filename="{dossier_id}-{number:02d}.pdf"',
                "Cache-Control": "private, no-store",
                "X-Content-SHA256": stored.sha256,
            },
        )

    @router.post("/api/dossiers/{dossier_id}/status", status_code=201, tags=["agency"])
    def status(dossier_id: str, body: StatusBody, principal: AgencyOnly) -> dict[str, Any]:
        """The agency's word on where the dossier is, shown to the counter that took it in."""
        dossier = visible_dossier(settings, principal, dossier_id)  # its own, archived
        at = body.at or datetime.now(UTC)
        if at.tzinfo is None:
            raise HTTPException(422, "at: give a time zone (e.g. +07:00)")
        assert principal.agency_code is not None
        metadata_store(settings).record_agency_status(
            StatusReport(dossier.dossier_id, principal.agency_code, str(body.status), at, body.note)
        )
        return {"dossier_id": dossier.dossier_id, "status": str(body.status), "at": at.isoformat()}

    @router.post("/ops/push/{outbox_id}/resend", include_in_schema=False)
    def resend(outbox_id: int, principal: OperatorPage) -> Response:
        if not metadata_store(settings).resend(outbox_id, actor=principal.name):
            raise HTTPException(404, "no such dead letter")
        return RedirectResponse(f"/ops?resent={outbox_id}#dead-letters", status_code=303)

    return router
