"""What machines call without a person's session: the health check, Prometheus' scrape
(open only when ``metrics_public``; else an operator's token), and a paper behind an
expiring signed link (issue 27).

``GET /api/handoff/{id}/{n}.pdf?exp=&sig=``: paper ``n`` as its own signed PDF. The link
is the credential (an agency's system fetches it as the portal's ``DuongDanTaiTepTin``):
its HMAC and expiry are checked before anything is loaded; a bad or old link is a 403.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from app.auth import operator_only
from app.routes.state import Service, service_state
from flows.handoff import HandoffError, check_link, paper_pdf
from flows.runtime import metadata_store, object_store
from models.errors import StorageError
from storage import keys

router = APIRouter()


def metrics_reader(request: Request) -> None:
    """Whoever may read the metrics: anyone when they are public, else an operator."""
    if not service_state(request).settings.metrics_public:
        operator_only(request)


@router.get("/metrics", include_in_schema=False)
def prometheus(service: Service, _reader: Annotated[None, Depends(metrics_reader)]) -> Response:
    body, content_type = service.metrics.render(busy_batches=service.runner.busy())
    return Response(body, media_type=content_type)


@router.get("/healthz", include_in_schema=False)
def health(service: Service) -> dict[str, str]:
    # The database answers; no count of every dossier for whoever asks, unsigned.
    metadata_store(service.settings).ping()
    return {"status": "ok"}


@router.get("/api/handoff/{dossier_id}/{number}.pdf", tags=["agency"])
def paper(dossier_id: str, number: int, service: Service, exp: str = "", sig: str = "") -> Response:
    settings = service.settings
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
