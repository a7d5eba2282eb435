"""The web pages: sign-in, counters' upload, agencies' search and dossier, operators' desk.

Server-rendered (Jinja2) over the same functions the JSON API uses, so a page can never
show what the API would refuse. Signing in with a token opens a page session: the browser
holds the session's own random id (never the token) in an HttpOnly, SameSite=Strict cookie;
it ends at sign-out (deleted on the server) or after SOHOA_SESSION_HOURS, and with its token.
The upload page's script talks to the JSON API with it. The sign-in form only counts when
posted from this service's own page (login CSRF).

Errors are answered here for the whole app: people get a page in their language, API
clients their JSON, and a fault (500) only an id to quote, never its text (SQL, paths).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.accounts import add_account_routes, check_login, locked_accounts
from app.auth import (
    COOKIE,
    NotSignedIn,
    _authenticate,
    page_user,
    visible_batch,
    visible_dossier,
)
from app.bulk_pages import add_bulk_pages
from app.i18n import Messages, load_messages
from app.originals import from_stack
from app.page_images import field_locations
from app.review import (
    CorrectionRefused,
)
from app.review_pages import add_review_pages
from app.search_pages import add_search_pages
from app.security import internal_error, new_error_id, same_origin, security_headers
from app.uploads import UploadRefused
from app.views import batch_json, dossier_json, download_name, ops_data, push_ops
from config import Settings
from flows.runtime import metadata_store
from models import DossierStatus, Principal, Role
from models.errors import DossierNotFoundError, SohoaError

log = logging.getLogger("sohoa.service")

# The dashboard reloads itself this often (a page, no script: it works everywhere).
OPS_REFRESH_S = 30
# The review desk's reason filter looks at this many waiting dossiers (newest first).
REVIEW_WINDOW = 200
HOME = {Role.COUNTER: "/upload", Role.AGENCY: "/search", Role.OPERATOR: "/ops"}
PAGE_SIZE = 20
# Paths whose clients read JSON; everything else is a page for a person.
API_PATHS = ("/api/", "/metrics", "/openapi", "/docs", "/redoc", "/static/", "/healthz")

CounterPage = Annotated[Principal, Depends(page_user(Role.COUNTER))]
ReaderPage = Annotated[Principal, Depends(page_user(Role.AGENCY, Role.OPERATOR))]
# A dossier's page: also for the counter that uploaded it (visible_dossier's rule).
DossierPage = Annotated[Principal, Depends(page_user(Role.COUNTER, Role.AGENCY, Role.OPERATOR))]
OperatorPage = Annotated[Principal, Depends(page_user(Role.OPERATOR))]


def install_messages(templates: Jinja2Templates, messages: Messages) -> None:
    """The catalogue's words as the templates' filters: ``{{ d.status | status }}``."""
    env = templates.env
    env.globals["t"] = messages
    env.globals["ui"] = messages.ui
    env.globals["script_words"] = messages.script_words()
    env.filters.update(
        local=messages.moment,
        day=messages.day,
        status=messages.status,
        kind=messages.kind,
        field=messages.field,
        source=messages.source,
        paper=messages.paper,
        role=messages.role,
        procedure=messages.procedure,
        reason=messages.reason,
        note=messages.note,
        event=messages.event,
        err=lambda text, file=None: messages.error(text, file=file),
        value=lambda value, name: messages.field_value(name, value),
    )


def add_pages(app: FastAPI, settings: Settings, templates: Jinja2Templates) -> None:
    messages = load_messages(settings.locale, settings.catalogue_path)
    install_messages(templates, messages)

    def render(
        request: Request, name: str, principal: Principal | None, **context: Any
    ) -> Response:
        return templates.TemplateResponse(
            request, name, {"user": principal, "home": HOME, **context}
        )

    def error_response(
        request: Request,
        status: int,
        detail: str,
        *,
        error_id: str | None = None,
        extra: dict[str, Any] | None = None,
        shown: str | None = None,
    ) -> Response:
        """JSON for API clients, a page in Vietnamese for people (``shown``: a reason
        already written for them, such as why a correction is not a value of its field)."""
        if request.url.path.startswith(API_PATHS):
            body: dict[str, Any] = {"detail": detail}
            if error_id:
                body["error_id"] = error_id
            body.update(extra or {})
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(body, status_code=status, headers=headers)
        known = (401, 403, 404, 409, 413, 422, 500)
        message = messages.text(f"http_{status}" if status in known else "http_other")
        user = None
        if status < 500:  # a fault may be the database itself: do not ask it again
            try:
                user = _authenticate(request)
            except HTTPException:  # the refused request itself (a cross-site post)
                user = None
        return templates.TemplateResponse(
            request,
            "error.html",
            {"user": user, "home": HOME, "message": message, "status": status,
             "error_id": error_id, "shown": shown},
            status_code=status,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def http_errors(request: Request, exc: StarletteHTTPException) -> Response:
        extra = {"files": exc.files} if isinstance(exc, UploadRefused) else None
        shown = str(exc.detail) if isinstance(exc, CorrectionRefused) else None
        return error_response(request, exc.status_code, str(exc.detail), extra=extra, shown=shown)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """A plain line naming each bad parameter and its bound (never the value sent)."""
        return error_response(request, 422, plain_errors(exc))

    @app.exception_handler(SohoaError)
    async def sohoa_error(request: Request, exc: SohoaError) -> Response:
        if isinstance(exc, DossierNotFoundError):
            return error_response(request, 404, "not found")
        return server_fault(request, exc, exc.message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        response = server_fault(request, exc, f"{type(exc).__name__}: {exc}")
        # Answered outside the middleware (Starlette's last resort): add the headers here.
        for name, value in security_headers(request.url.path):
            response.headers[name.decode()] = value.decode()
        return response

    def server_fault(request: Request, exc: BaseException, text: str) -> Response:
        """The details (SQL, paths, stack) go to the log under an id; the client gets the id."""
        error_id = new_error_id()
        log.error(
            "error %s on %s %s: %s",
            error_id, request.method, request.url.path, " ".join(text.split()),
            exc_info=(type(exc), exc, exc.__traceback__),
        )  # fmt: skip
        return error_response(request, 500, internal_error(error_id), error_id=error_id)

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        principal = _authenticate(request)
        if principal is None:
            raise NotSignedIn()
        return RedirectResponse(HOME[principal.role], status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", None, next=next if next.startswith("/") else "/")

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=256)] = "",
        user_name: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=256)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        if not same_origin(request):
            # Login CSRF: another site must not sign a browser in (as its own account).
            raise HTTPException(403, "sign in from this site's own sign-in page")
        meta = metadata_store(settings)
        answer = check_login(settings, token=token, user_name=user_name, password=password)
        principal = answer.principal
        if principal is None:
            # One answer whether the name exists or not; a lock says only until when.
            if answer.locked_until:
                error = messages.ui("login_locked", until=messages.moment(answer.locked_until))
            elif user_name.strip():
                error = messages.ui("login_refused_person")
            else:
                error = messages.ui("login_refused")
            return render(request, "login.html", None, next=next, user_name=user_name, error=error)
        target = (
            next
            if next.startswith("/") and not next.startswith("//") and next != "/"
            else HOME[principal.role]
        )
        lifetime = timedelta(hours=settings.session_hours)
        session_id = meta.create_session(principal.token_id, lifetime=lifetime)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, session_id, httponly=True, samesite="strict",
            max_age=int(lifetime.total_seconds()), secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        session_id = request.cookies.get(COOKIE)
        if session_id:
            metadata_store(settings).end_session(session_id)  # dead wherever it was copied
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return response

    add_account_routes(app, settings)

    @app.get("/upload", response_class=HTMLResponse, include_in_schema=False)
    def upload_page(request: Request, principal: CounterPage) -> Response:
        meta = metadata_store(settings)
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
        return render(
            request, "upload.html", principal, batches=batches,
            agencies=choices, default_agency=default,
            procedures=sorted(messages.procedures.items(), key=lambda p: p[1]),
        )  # fmt: skip

    @app.get("/dossiers/{dossier_id}", response_class=HTMLResponse, include_in_schema=False)
    def dossier_page(
        request: Request,
        dossier_id: str,
        principal: DossierPage,
        field: Annotated[str, Query(max_length=64, pattern=r"^[a-z_]*$")] = "",
    ) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        data = dossier_json(settings, principal, dossier)
        # Boxes for every field with a value (the pages' OCR records are read once for
        # them all): any field can be chosen and checked against the scan (issue 29, on a
        # phone the page zooms to it). Those under review are marked; others only when chosen.
        flagged = {f.name for f in dossier.field_details if f.needs_review}
        wanted = {f.name for f in dossier.field_details if f.value}
        boxes = {}
        for name, found in field_locations(settings, dossier, sorted(wanted)).items():
            boxes[name] = {
                "page": found.page_position + 1,
                "left": round(found.left, 4),
                "top": round(found.top, 4),
                "width": round(found.right - found.left, 4),
                "height": round(found.bottom - found.top, 4),
            }
        stack = None
        if from_stack(settings, dossier):
            # Which pages of which scanned file its original holds; the file itself is
            # offered to operators only (it holds other citizens' papers).
            stack = {
                "source": dossier.source_name,
                "pages": page_ranges(dossier.source_pages),
                "url": f"/api/dossiers/{dossier.dossier_id}/original?stack=true"
                if principal.role is Role.OPERATOR
                else None,
            }
        return render(
            request, "dossier.html", principal, dossier=data, boxes=boxes, focus=field,
            flagged=flagged,
            download_stem=download_name(dossier, ""), stack=stack,
        )  # fmt: skip

    @app.get("/ops", response_class=HTMLResponse, include_in_schema=False)
    def ops_page(
        request: Request,
        principal: OperatorPage,
        retried: Annotated[str, Query(max_length=64)] = "",
        resent: Annotated[str, Query(max_length=20)] = "",
        retried_n: Annotated[int, Query(ge=0, le=1000)] = 0,
        chosen: Annotated[int, Query(ge=0, le=1000)] = 0,
    ) -> Response:
        data = ops_data(settings, request_runner=request.app.state.runner)
        data["locked_accounts"] = locked_accounts(settings)
        data.update(push_ops(settings))  # issue 27: dead letters, resent from here
        return render(
            request, "ops.html", principal, ops=data, statuses=list(DossierStatus),
            retried=retried, now=datetime.now(UTC), refresh_s=OPS_REFRESH_S, resent=resent,
            retried_n=retried_n, chosen=chosen,
        )  # fmt: skip

    @app.get("/ops/batches/{batch_id}", response_class=HTMLResponse, include_in_schema=False)
    def batch_page(request: Request, batch_id: str, principal: OperatorPage) -> Response:
        batch = batch_json(settings, visible_batch(settings, principal, batch_id), principal)
        counts: dict[str, int] = {}
        for d in batch["dossiers"]:
            counts[d["status"]] = counts.get(d["status"], 0) + 1
        tally = [(str(s), counts[s]) for s in DossierStatus if counts.get(s)]
        return render(request, "batch.html", principal, batch=batch, tally=tally)

    add_review_pages(app, settings, render, messages)
    add_bulk_pages(app, settings, render, messages)
    add_search_pages(app, settings, render, messages)


def plain_errors(exc: RequestValidationError) -> str:
    """``offset: Input should be less than or equal to 100000`` (one line per problem)."""
    where = {"query", "body", "path", "header", "cookie", "form"}
    lines = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in where)
        lines.append(f"{location or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(lines)


def page_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """0-based page indices as people number pages: (2, 3, 4, 7) -> "3-5, 8"."""
    runs: list[list[int]] = []
    for number in sorted(i + 1 for i in indices):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
