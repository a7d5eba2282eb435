"""The agencies' search pages (operators' too, issue 29): ranked full-text search with
phrases and a snippet from the page that matches, the day on the receipt, filters folded on
phones, saved searches, and a day's dossiers downloaded at once (a zip of their signed
PDFs). Every form that changes something is a POST (same-origin checked with the page
session, as every page's is); a download is confirmed on a page of its own first."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from app.auth import ReaderPage, reader_page, visible_dossier
from app.routes.state import Service, ServiceState
from app.search_pages import (
    BULK_CAP,
    SEARCH_KEYS,
    build_query,
    clean_query,
    dossier_text,
    owner_of,
    zip_pdfs,
)
from app.snippets import highlight, page_snippet
from flows.runtime import metadata_store
from models import DossierStatus, Principal, Role
from models.codes import received_on
from models.dossier import DossierInfo
from models.errors import DossierNotFoundError
from models.search import COUNT_CAP, MAX_OFFSET, VIETNAM, SearchPage, parse_text_query

log = logging.getLogger("sohoa.service")

router = APIRouter(include_in_schema=False, dependencies=[Depends(reader_page)])

PAGE_SIZE = 20
# Folded away on a phone (issue 29): set ones open the fold.
MORE_KEYS = SEARCH_KEYS[1:]


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    service: Service,
    principal: ReaderPage,
    code: Annotated[str, Query(max_length=64)] = "",
    id_number: Annotated[str, Query(max_length=32)] = "",
    name: Annotated[str, Query(max_length=128)] = "",
    procedure: Annotated[str, Query(max_length=64)] = "",
    text: Annotated[str, Query(max_length=200)] = "",
    received: Annotated[str, Query(max_length=32)] = "",
    date_from: Annotated[str, Query(max_length=32)] = "",
    date_to: Annotated[str, Query(max_length=32)] = "",
    paper: Annotated[str, Query(max_length=32)] = "",
    paper_from: Annotated[str, Query(max_length=32)] = "",
    paper_to: Annotated[str, Query(max_length=32)] = "",
    sort: Annotated[str, Query(pattern="^(|newest|oldest|code|name|relevance)$")] = "",
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET // PAGE_SIZE + 1)] = 1,
) -> Response:
    form = {
        "code": code, "id_number": id_number, "name": name, "procedure": procedure,
        "text": text, "received": received, "date_from": date_from, "date_to": date_to,
        "paper": paper, "paper_from": paper_from, "paper_to": paper_to, "sort": sort,
    }  # fmt: skip
    asked = any(v for k, v in form.items() if k != "sort")
    result, total, shown = None, 0, {}
    if asked or principal.role is Role.AGENCY:
        query = build_query(
            principal, form, service.messages, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        meta = metadata_store(service.settings)
        result = meta.search(query)
        total = meta.count(query)
        shown = found_marks(service, result, form)
    saved = metadata_store(service.settings).saved_searches(owner_of(principal))
    return service.render(
        request, "search.html", principal, result=result, form=form, page=page, asked=asked,
        total=total, count_cap=COUNT_CAP, snippets=shown.get("snippets", {}),
        marks=shown.get("marks", {}), paper_days=shown.get("paper_days", {}),
        procedures=sorted(service.messages.procedures.items(), key=lambda p: p[1]),
        more_set=any(form[k] for k in MORE_KEYS),
        saved=saved, query_string=clean_query(str(request.url.query)), bulk_cap=BULK_CAP,
    )  # fmt: skip


def found_marks(
    service: ServiceState, result: SearchPage, form: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Per dossier found: the day on its paper, what was asked marked in its code, name and
    ID number, and the snippet of its text that matches the words asked for."""
    text = form["text"]
    parsed = parse_text_query(text) if text else None
    paper_days: dict[str, Any] = {}
    marks: dict[str, Any] = {}
    snippets: dict[str, Any] = {}
    for d in result.items:
        paper_days[d.dossier_id] = received_on(d.dossier_code)
        marks[d.dossier_id] = {
            "code": highlight(d.dossier_code or d.dossier_id, [form["code"]]),
            "name": highlight(d.full_name, [form["name"]]),
            "id_number": highlight(d.id_number, [form["id_number"]]),
        }
        if parsed is not None:
            number, pieces = page_snippet(dossier_text(service.settings, d.dossier_id), parsed)
            if pieces:
                snippets[d.dossier_id] = {"page": number, "pieces": pieces}
    return {"paper_days": paper_days, "marks": marks, "snippets": snippets}


@router.post("/search/saved")
def save_search(
    service: Service,
    principal: ReaderPage,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    query: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    kept = clean_query(query)
    label = " ".join(name.split())
    if not label:
        raise HTTPException(422, "name: empty")
    if metadata_store(service.settings).save_search(owner_of(principal), label, kept) is None:
        raise HTTPException(422, "too many saved searches")
    return RedirectResponse(f"/search?{kept}", status_code=303)


@router.post("/search/saved/{search_id}/delete")
def delete_search(search_id: str, service: Service, principal: ReaderPage) -> Response:
    meta = metadata_store(service.settings)
    if not meta.delete_saved_search(owner_of(principal), search_id[:32]):
        raise HTTPException(404, "saved search not found")
    return RedirectResponse("/search", status_code=303)


def chosen_dossiers(
    service: ServiceState, principal: Principal, ids: list[str], every: bool, query: str
) -> list[DossierInfo]:
    """The archived dossiers of the principal's scope asked for: those ticked, or every
    result of the search (up to BULK_CAP); any other id is refused as not found."""
    settings = service.settings
    if every:
        form = dict(parse_qsl(clean_query(query)))
        asked = build_query(principal, form, service.messages, limit=BULK_CAP, offset=0)
        found = metadata_store(settings).search(asked).items
        return [d for d in found if d.status is DossierStatus.ARCHIVED]
    chosen = []
    for dossier_id in dict.fromkeys(ids):
        try:
            dossier = visible_dossier(settings, principal, dossier_id)
        except (HTTPException, DossierNotFoundError):
            raise HTTPException(404, "dossier not found") from None
        if dossier.status is DossierStatus.ARCHIVED:
            chosen.append(dossier)
    return chosen


@router.post("/search/download", response_class=HTMLResponse)
async def download_confirm(request: Request, service: Service, principal: ReaderPage) -> Response:
    """Step one: which dossiers, how many; nothing is sent before the confirmation."""
    async with request.form(max_files=0, max_fields=BULK_CAP + 4, max_part_size=4096) as data:
        ids = [str(v)[:96] for v in data.getlist("ids")][:BULK_CAP]
        every = data.get("all") == "1"
        query = str(data.get("query") or "")[:2000]
    dossiers = chosen_dossiers(service, principal, ids, every, query)
    return service.render(
        request, "search_download.html", principal, dossiers=dossiers,
        query=clean_query(query), bulk_cap=BULK_CAP,
    )  # fmt: skip


@router.post("/search/download.zip")
async def download_zip(request: Request, service: Service, principal: ReaderPage) -> Response:
    """Step two, confirmed: the zip of the listed dossiers' signed PDFs, streamed."""
    async with request.form(max_files=0, max_fields=BULK_CAP + 4, max_part_size=4096) as data:
        ids = [str(v)[:96] for v in data.getlist("ids")][:BULK_CAP]
    dossiers = chosen_dossiers(service, principal, ids, False, "")
    if not dossiers:
        raise HTTPException(404, "no archived dossier chosen")
    log.info(
        "bulk download of %d dossiers by %s", len(dossiers), principal.token_id,
        extra={"dossier_ids": [d.dossier_id for d in dossiers][:BULK_CAP]},
    )  # fmt: skip
    day = datetime.now(VIETNAM).strftime("%Y%m%d")
    return StreamingResponse(
        zip_pdfs(service.settings, dossiers),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="ho-so-{day}.zip"'},
    )
