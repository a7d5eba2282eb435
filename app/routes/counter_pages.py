"""The counters' page: the upload form (its script talks to ``/api/batches`` with the page
session) and the counter's recent uploads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from app.auth import CounterPage, counter_page
from app.routes.state import Service
from flows.runtime import metadata_store
from models import Role

router = APIRouter(include_in_schema=False, dependencies=[Depends(counter_page)])


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, service: Service, principal: CounterPage) -> Response:
    meta = metadata_store(service.settings)
    batches = meta.list_batches(token_id=principal.token_id, limit=10)
    # The agencies a batch can go to: those with an agency account, and those this
    # counter already sent to. Only their codes: nothing of the accounts themselves.
    agencies = (
        {
            t.principal.agency_code
            for t in meta.list_tokens()
            if t.principal.role is Role.AGENCY and t.revoked_at is None
        }
        | {b.agency_code for b in batches}
        | {principal.agency_code}
    )
    choices = sorted(code for code in agencies if code)
    # Never the last batch's agency (a Thanh Hóa dossier once went to Quảng Ninh that
    # way): the account's own, or the only one there is; else the counter picks.
    default = principal.agency_code or (choices[0] if len(choices) == 1 else "")
    return service.render(
        request, "upload.html", principal, batches=batches,
        agencies=choices, default_agency=default,
        procedures=sorted(service.messages.procedures.items(), key=lambda p: p[1]),
    )  # fmt: skip
