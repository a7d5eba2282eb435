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
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.security import internal_error, new_error_id, same_origin, security_headers
from app.service import (
    COOKIE,
    NotSignedIn,
    _authenticate,
    apply_correction,
    dossier_json,
    ops_data,
    page_user,
    retry_dossier,
    review_items,
    scoped_query,
    text_query,
    visible_dossier,
)
from config import Settings
from flows.runtime import metadata_store
from models import DossierStatus, Principal, Role, SearchQuery
from models.errors import DossierNotFoundError, SohoaError
from models.search import MAX_OFFSET, VIETNAM, received_day

log = logging.getLogger("sohoa.service")

HOME = {Role.COUNTER: "/upload", Role.AGENCY: "/search", Role.OPERATOR: "/ops"}
PAGE_SIZE = 20
# Paths whose clients read JSON; everything else is a page for a person.
API_PATHS = ("/api/", "/metrics", "/openapi", "/docs", "/redoc", "/static/", "/healthz")

CounterPage = Annotated[Principal, Depends(page_user(Role.COUNTER))]
ReaderPage = Annotated[Principal, Depends(page_user(Role.AGENCY, Role.OPERATOR))]
OperatorPage = Annotated[Principal, Depends(page_user(Role.OPERATOR))]


def _local(value: str | datetime | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def _day(text: str | None, *, end: bool) -> datetime | None:
    if not text:
        return None
    try:
        return received_day(text, end=end)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def add_pages(app: FastAPI, settings: Settings, templates: Jinja2Templates) -> None:
    templates.env.filters["local"] = _local

    def render(
        request: Request, name: str, principal: Principal | None, **context: Any
    ) -> Response:
        return templates.TemplateResponse(
            request, name, {"user": principal, "home": HOME, **context}
        )

    def error_response(
        request: Request, status: int, detail: str, *, error_id: str | None = None
    ) -> Response:
        """JSON for API clients, a page in Vietnamese for people."""
        if request.url.path.startswith(API_PATHS):
            body: dict[str, Any] = {"detail": detail}
            if error_id:
                body["error_id"] = error_id
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(body, status_code=status, headers=headers)
        messages = {
            401: "Cần đăng nhập.",
            403: "Tài khoản này không được xem trang này.",
            404: "Không tìm thấy (hoặc bạn không có quyền xem).",
            422: "Yêu cầu không hợp lệ.",
            500: "Lỗi máy chủ. Xin báo mã lỗi cho quản trị viên.",
        }
        user = None
        if status < 500:  # a fault may be the database itself: do not ask it again
            try:
                user = _authenticate(request)
            except HTTPException:  # the refused request itself (a cross-site post)
                user = None
        return templates.TemplateResponse(
            request,
            "error.html",
            {"user": user, "home": HOME, "message": messages.get(status, detail),
             "status": status, "detail": detail},
            status_code=status,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def http_errors(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))

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
        token: Annotated[str, Form(max_length=256)],
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        if not same_origin(request):
            # Login CSRF: another site must not sign a browser in (as its own account).
            raise HTTPException(403, "sign in from this site's own sign-in page")
        meta = metadata_store(settings)
        principal = meta.authenticate(token)
        if principal is None:
            return render(
                request,
                "login.html",
                None,
                next=next,
                error="Mã truy cập không hợp lệ hoặc đã bị thu hồi.",
            )
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

    @app.get("/upload", response_class=HTMLResponse, include_in_schema=False)
    def upload_page(request: Request, principal: CounterPage) -> Response:
        batches = metadata_store(settings).list_batches(token_id=principal.token_id, limit=10)
        return render(request, "upload.html", principal, batches=batches)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request,
        principal: ReaderPage,
        code: Annotated[str, Query(max_length=64)] = "",
        id_number: Annotated[str, Query(max_length=32)] = "",
        name: Annotated[str, Query(max_length=128)] = "",
        procedure: Annotated[str, Query(max_length=64)] = "",
        text: Annotated[str, Query(max_length=200)] = "",
        date_from: Annotated[str, Query(max_length=32)] = "",
        date_to: Annotated[str, Query(max_length=32)] = "",
        page: Annotated[int, Query(ge=1, le=MAX_OFFSET // PAGE_SIZE + 1)] = 1,
    ) -> Response:
        asked = any((code, id_number, name, procedure, text, date_from, date_to))
        text_query(text)
        result = None
        if asked or principal.role is Role.AGENCY:
            query = scoped_query(
                principal,
                SearchQuery(
                    dossier_code=code or None,
                    id_number=id_number or None,
                    name=name or None,
                    procedure=procedure or None,
                    text=text or None,
                    received_from=_day(date_from, end=False),
                    received_to=_day(date_to, end=True),
                    limit=PAGE_SIZE,
                    offset=(page - 1) * PAGE_SIZE,
                ),
            )
            result = metadata_store(settings).search(query)
        form = {
            "code": code, "id_number": id_number, "name": name, "procedure": procedure,
            "text": text, "date_from": date_from, "date_to": date_to,
        }  # fmt: skip
        return render(
            request, "search.html", principal, result=result, form=form, page=page, asked=asked
        )

    @app.get("/dossiers/{dossier_id}", response_class=HTMLResponse, include_in_schema=False)
    def dossier_page(request: Request, dossier_id: str, principal: ReaderPage) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        return render(
            request, "dossier.html", principal, dossier=dossier_json(settings, principal, dossier)
        )

    @app.get("/ops", response_class=HTMLResponse, include_in_schema=False)
    def ops_page(request: Request, principal: OperatorPage) -> Response:
        data = ops_data(settings, request_runner=request.app.state.runner)
        return render(request, "ops.html", principal, ops=data, statuses=list(DossierStatus))

    @app.get("/ops/review", response_class=HTMLResponse, include_in_schema=False)
    def review_page(request: Request, principal: OperatorPage, done: str = "") -> Response:
        items = review_items(settings, limit=50, offset=0)
        return render(request, "review.html", principal, items=items, done=done)

    @app.post("/ops/review/{dossier_id}/{name}", include_in_schema=False)
    def review_correct(
        dossier_id: str,
        name: str,
        principal: OperatorPage,
        value: Annotated[str, Form(max_length=2000)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
        not_on_papers: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        apply_correction(
            settings,
            dossier,
            name,
            value,
            corrected_by=principal.name,
            note=note or None,
            not_on_papers=bool(not_on_papers),
        )
        return RedirectResponse(f"/ops/review?done={dossier_id}", status_code=303)

    @app.post("/ops/retry/{dossier_id}", include_in_schema=False)
    def ops_retry(request: Request, dossier_id: str, principal: OperatorPage) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        retry_dossier(settings, request.app.state.runner, dossier, principal)
        return RedirectResponse("/ops", status_code=303)


def plain_errors(exc: RequestValidationError) -> str:
    """``offset: Input should be less than or equal to 100000`` (one line per problem)."""
    where = {"query", "body", "path", "header", "cookie", "form"}
    lines = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in where)
        lines.append(f"{location or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(lines)
