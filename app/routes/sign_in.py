"""Signing in and out: open to anyone (the only pages that are).

Signing in with a token or a person's name and password opens a page session: the browser
holds the session's own random id (never the token) in an HttpOnly, SameSite=Strict cookie;
it ends at sign-out (deleted on the server) or after SOHOA_SESSION_HOURS, and with its
token. The sign-in form only counts when posted from this service's own page (login CSRF).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import check_login
from app.auth import COOKIE, NotSignedIn, authenticate
from app.routes.state import HOME, Service
from app.security import same_origin
from flows.runtime import metadata_store

router = APIRouter(include_in_schema=False)


@router.get("/")
def root(request: Request) -> Response:
    principal = authenticate(request)
    if principal is None:
        raise NotSignedIn()
    return RedirectResponse(HOME[principal.role], status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, service: Service, next: str = "/") -> Response:
    return service.render(request, "login.html", None, next=next if next.startswith("/") else "/")


@router.post("/login")
def login(
    request: Request,
    service: Service,
    token: Annotated[str, Form(max_length=256)] = "",
    user_name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    if not same_origin(request):
        # Login CSRF: another site must not sign a browser in (as its own account).
        raise HTTPException(403, "sign in from this site's own sign-in page")
    settings, messages = service.settings, service.messages
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
        return service.render(
            request, "login.html", None, next=next, user_name=user_name, error=error
        )
    target = (
        next
        if next.startswith("/") and not next.startswith("//") and next != "/"
        else HOME[principal.role]
    )
    lifetime = timedelta(hours=settings.session_hours)
    session_id = metadata_store(settings).create_session(principal.token_id, lifetime=lifetime)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="strict",
        max_age=int(lifetime.total_seconds()), secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout(request: Request, service: Service) -> Response:
    if not same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    session_id = request.cookies.get(COOKIE)
    if session_id:
        metadata_store(service.settings).end_session(session_id)  # dead wherever it was copied
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
