"""The web pages: sign-in, counters' upload, agencies' search and dossier, operators' desk.

Server-rendered (Jinja2) over the same functions the JSON API uses, so a page can never
show what the API would refuse. The browser holds its token in an HttpOnly, SameSite=Strict
cookie set at sign-in; the upload page's script talks to the JSON API with it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.service import (
    COOKIE,
    NotSignedIn,
    _authenticate,
    dossier_json,
    ops_data,
    page_user,
    retry_dossier,
    review_items,
    scoped_query,
    visible_dossier,
)
from config import Settings
from flows.runtime import metadata_store
from models import DossierStatus, Principal, Role, SearchQuery
from models.search import VIETNAM, received_day

HOME = {Role.COUNTER: "/upload", Role.AGENCY: "/search", Role.OPERATOR: "/ops"}

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

    @app.exception_handler(StarletteHTTPException)
    async def page_errors(request: Request, exc: StarletteHTTPException) -> Response:
        """People get a page in their language; API clients keep their JSON."""
        path = request.url.path
        if path.startswith(("/api/", "/metrics", "/openapi", "/docs", "/static/")):
            return await http_exception_handler(request, exc)
        messages = {
            401: "Cần đăng nhập.",
            403: "Tài khoản này không được xem trang này.",
            404: "Không tìm thấy (hoặc bạn không có quyền xem).",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        try:
            user = _authenticate(request)
        except HTTPException:  # the refused request itself (a cross-site post)
            user = None
        response = templates.TemplateResponse(
            request,
            "error.html",
            {"user": user, "home": HOME, "message": message,
             "status": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
        )  # fmt: skip
        return response

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
        request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
    ) -> Response:
        principal = metadata_store(settings).authenticate(token)
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
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, token.strip(), httponly=True, samesite="strict", max_age=12 * 3600,
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/upload", response_class=HTMLResponse, include_in_schema=False)
    def upload_page(request: Request, principal: CounterPage) -> Response:
        batches = metadata_store(settings).list_batches(token_id=principal.token_id, limit=10)
        return render(request, "upload.html", principal, batches=batches)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request,
        principal: ReaderPage,
        code: str = "",
        id_number: str = "",
        name: str = "",
        procedure: str = "",
        text: str = "",
        date_from: str = "",
        date_to: str = "",
        page: int = 1,
    ) -> Response:
        asked = any((code, id_number, name, procedure, text, date_from, date_to))
        page = max(1, page)
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
                    limit=20,
                    offset=(page - 1) * 20,
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
        value: Annotated[str, Form(min_length=1, max_length=2000)],
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        visible_dossier(settings, principal, dossier_id)
        if not re.fullmatch(r"[a-z_]{1,64}", name):
            raise HTTPException(422, "not a field name")
        metadata_store(settings).correct_field(
            dossier_id, name, value.strip(), corrected_by=principal.name, note=note or None
        )
        return RedirectResponse(f"/ops/review?done={dossier_id}", status_code=303)

    @app.post("/ops/retry/{dossier_id}", include_in_schema=False)
    def ops_retry(request: Request, dossier_id: str, principal: OperatorPage) -> Response:
        dossier = visible_dossier(settings, principal, dossier_id)
        retry_dossier(settings, request.app.state.runner, dossier, principal)
        return RedirectResponse("/ops", status_code=303)
