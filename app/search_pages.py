"""The agencies' search page (issue 29): ranked full-text search with phrases and a snippet
from the page that matches, the day on the receipt, filters folded on phones, saved
searches, and a day's dossiers downloaded at once (a zip of their signed PDFs).

Every form that changes something is a POST (same-origin checked with the page session, as
every page's is); a download is confirmed on a page of its own first."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from app.auth import page_user, scoped_query, text_query, visible_dossier
from app.i18n import Messages
from app.snippets import TEXT_READ_BYTES, highlight, page_snippet
from app.views import download_name
from config import Settings
from flows.runtime import metadata_store, object_store
from models import DossierStatus, Principal, Role, SearchQuery
from models.codes import received_on
from models.dossier import DossierInfo
from models.errors import DossierNotFoundError, StorageError
from models.search import COUNT_CAP, MAX_OFFSET, SORTS, VIETNAM, parse_text_query, received_day
from models.textfold import fold
from storage import keys

log = logging.getLogger("sohoa.service")
ReaderPage = Annotated[Principal, Depends(page_user(Role.AGENCY, Role.OPERATOR))]
PAGE_SIZE = 20
# "Every result of this search" downloads at most this many dossiers (one page of the API).
BULK_CAP = 200
# The search form's fields a saved search keeps (its query string holds nothing else).
SEARCH_KEYS = (
    "text", "name", "id_number", "code", "procedure", "received", "date_from", "date_to",
    "paper", "paper_from", "paper_to", "sort",
)  # fmt: skip
# Folded away on a phone (issue 29): set ones open the fold.
MORE_KEYS = SEARCH_KEYS[1:]


def _day(text: str | None, *, end: bool) -> datetime | None:
    if not text:
        return None
    try:
        return received_day(text, end=end)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _procedure_id(messages: Messages, asked: str) -> str | None:
    """A procedure named by its id or by (part of) its name ("lý lịch" -> "lltp"); a text
    naming none is searched as it is (and finds nothing)."""
    asked = asked.strip()
    if not asked or asked in messages.procedures:
        return asked or None
    wanted = " ".join(fold(asked).split())
    named = [pid for pid, name in messages.procedures.items() if wanted in fold(name)]
    return named[0] if named else asked


def dossier_text(settings: Settings, dossier_id: str) -> str:
    """The start of a dossier's OCR text (for a search snippet), or "" if it has none."""
    read = bytearray()
    try:
        for chunk in object_store(settings).iter_chunks(keys.text_key(dossier_id)):
            read += chunk
            if len(read) >= TEXT_READ_BYTES:
                break
    except StorageError:
        return ""
    return read[:TEXT_READ_BYTES].decode("utf-8", errors="ignore")


def owner_of(principal: Principal) -> str:
    """Whose saved searches: a person's account, else the token's holder."""
    if principal.user_name:
        return f"user:{principal.user_name}"[:128]
    return f"token:{principal.token_id}"[:128]


def clean_query(raw: str) -> str:
    """A search page's query string with only the search form's fields, each once and
    within bounds: what a saved search or a download may carry back."""
    kept: dict[str, str] = {}
    for key, value in parse_qsl(raw[:2000], keep_blank_values=False):
        if key in SEARCH_KEYS and key not in kept and value.strip():
            kept[key] = value.strip()[:200]
    if kept.get("sort") not in (None, *SORTS):
        del kept["sort"]
    return urlencode(kept)


class _Sink:
    """A write-only file zipfile streams into: what it wrote is taken out between files."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def zip_pdfs(settings: Settings, dossiers: list[DossierInfo]) -> Iterator[bytes]:
    """The dossiers' signed PDFs as a zip, streamed a chunk at a time (never all in memory);
    each file named by its dossier code, a second of the same code numbered."""
    store = object_store(settings)
    sink = _Sink()
    names: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
        for dossier in dossiers:
            stem = download_name(dossier, "")
            name, n = f"{stem}.pdf", 1
            while name in names:
                n += 1
                name = f"{stem}-{n}.pdf"
            try:
                chunks = store.iter_chunks(keys.pdf_key(dossier.dossier_id))
                first = next(chunks, b"")
            except StorageError:
                continue  # no signed PDF (yet): nothing to put in
            names.add(name)
            with archive.open(name, "w") as member:
                member.write(first)
                for chunk in chunks:
                    member.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def add_search_pages(
    app: FastAPI,
    settings: Settings,
    render: Callable[..., Response],
    messages: Messages,
) -> None:
    procedures = sorted(messages.procedures.items(), key=lambda p: p[1])

    def build_query(
        principal: Principal, form: dict[str, str], *, limit: int, offset: int
    ) -> SearchQuery:
        text = form.get("text", "")
        text_query(text)
        received = form.get("received", "")
        sort = form.get("sort") or ("relevance" if text else "newest")
        try:
            query = SearchQuery(
                dossier_code=form.get("code") or None,
                id_number=form.get("id_number") or None,
                name=form.get("name") or None,
                procedure=_procedure_id(messages, form.get("procedure", "")),
                text=text or None,
                received_from=_day(received or form.get("date_from"), end=False),
                received_to=_day(received or form.get("date_to"), end=True),
                # One day on the paper, or a range (as the upload's day and range).
                paper_from=_date(form.get("paper") or form.get("paper_from", "")),
                paper_to=_date(form.get("paper") or form.get("paper_to", "")),
                limit=limit,
                offset=offset,
                sort=sort,
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return scoped_query(principal, query)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request,
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
        result, total, snippets, marks = None, 0, {}, {}
        paper_days = {}
        if asked or principal.role is Role.AGENCY:
            query = build_query(principal, form, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
            meta = metadata_store(settings)
            result = meta.search(query)
            total = meta.count(query)
            parsed = parse_text_query(text) if text else None
            for d in result.items:
                paper_days[d.dossier_id] = received_on(d.dossier_code)
                marks[d.dossier_id] = {
                    "code": highlight(d.dossier_code or d.dossier_id, [code]),
                    "name": highlight(d.full_name, [name]),
                    "id_number": highlight(d.id_number, [id_number]),
                }
                if parsed is not None:
                    number, pieces = page_snippet(dossier_text(settings, d.dossier_id), parsed)
                    if pieces:
                        snippets[d.dossier_id] = {"page": number, "pieces": pieces}
        saved = metadata_store(settings).saved_searches(owner_of(principal))
        return render(
            request, "search.html", principal, result=result, form=form, page=page, asked=asked,
            total=total, count_cap=COUNT_CAP, snippets=snippets, marks=marks,
            paper_days=paper_days,
            procedures=procedures, more_set=any(form[k] for k in MORE_KEYS),
            saved=saved, query_string=clean_query(str(request.url.query)), bulk_cap=BULK_CAP,
        )  # fmt: skip

    @app.post("/search/saved", include_in_schema=False)
    def save_search(
        principal: ReaderPage,
        name: Annotated[str, Form(min_length=1, max_length=100)],
        query: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        kept = clean_query(query)
        label = " ".join(name.split())
        if not label:
            raise HTTPException(422, "name: empty")
        if metadata_store(settings).save_search(owner_of(principal), label, kept) is None:
            raise HTTPException(422, "too many saved searches")
        return RedirectResponse(f"/search?{kept}", status_code=303)

    @app.post("/search/saved/{search_id}/delete", include_in_schema=False)
    def delete_search(search_id: str, principal: ReaderPage) -> Response:
        if not metadata_store(settings).delete_saved_search(owner_of(principal), search_id[:32]):
            raise HTTPException(404, "saved search not found")
        return RedirectResponse("/search", status_code=303)

    def chosen(principal: Principal, ids: list[str], every: bool, query: str) -> list[DossierInfo]:
        """The archived dossiers of the principal's scope asked for: those ticked, or every
        result of the search (up to BULK_CAP); any other id is refused as not found."""
        meta = metadata_store(settings)
        if every:
            form = dict(parse_qsl(clean_query(query)))
            asked = build_query(principal, form, limit=BULK_CAP, offset=0)
            found = [d for d in meta.search(asked).items if d.status is DossierStatus.ARCHIVED]
            return found
        found = []
        for dossier_id in dict.fromkeys(ids):
            try:
                dossier = visible_dossier(settings, principal, dossier_id)
            except (HTTPException, DossierNotFoundError):
                raise HTTPException(404, "dossier not found") from None
            if dossier.status is DossierStatus.ARCHIVED:
                found.append(dossier)
        return found

    @app.post("/search/download", response_class=HTMLResponse, include_in_schema=False)
    async def download_confirm(request: Request, principal: ReaderPage) -> Response:
        """Step one: which dossiers, how many; nothing is sent before the confirmation."""
        async with request.form(max_files=0, max_fields=BULK_CAP + 4, max_part_size=4096) as data:
            ids = [str(v)[:96] for v in data.getlist("ids")][:BULK_CAP]
            every = data.get("all") == "1"
            query = str(data.get("query") or "")[:2000]
        dossiers = chosen(principal, ids, every, query)
        return render(
            request, "search_download.html", principal, dossiers=dossiers,
            query=clean_query(query), bulk_cap=BULK_CAP,
        )  # fmt: skip

    @app.post("/search/download.zip", include_in_schema=False)
    async def download_zip(request: Request, principal: ReaderPage) -> Response:
        """Step two, confirmed: the zip of the listed dossiers' signed PDFs, streamed."""
        async with request.form(max_files=0, max_fields=BULK_CAP + 4, max_part_size=4096) as data:
            ids = [str(v)[:96] for v in data.getlist("ids")][:BULK_CAP]
        dossiers = chosen(principal, ids, False, "")
        if not dossiers:
            raise HTTPException(404, "no archived dossier chosen")
        log.info(
            "bulk download of %d dossiers by %s", len(dossiers), principal.token_id,
            extra={"dossier_ids": [d.dossier_id for d in dossiers][:BULK_CAP]},
        )  # fmt: skip
        day = datetime.now(VIETNAM).strftime("%Y%m%d")
        return StreamingResponse(
            zip_pdfs(settings, dossiers),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="ho-so-{day}.zip"'},
        )
