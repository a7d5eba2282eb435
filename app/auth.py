"""Who is calling (a bearer token or a page session) and what they may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.routes.state import service_state
from app.security import same_origin
from config import Settings
from flows.runtime import metadata_store
from models import BatchInfo, DossierInfo, DossierStatus, Principal, Role, SearchQuery
from models.errors import DossierNotFoundError
from storage import keys

COOKIE = "sohoa_session"  # a page session's id (never the API token)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_PRINCIPAL = "sohoa.principal"  # where a request's authentication is kept once done


class NotSignedIn(Exception):
    """Raised by page routes: the browser is sent to the sign-in page."""


def authenticate(request: Request) -> Principal | None:
    """Who is calling: an API bearer token, else a page session cookie. Done once per
    request (the upload gate does it before the body; the route reuses the answer)."""
    if _PRINCIPAL in request.scope:
        cached: Principal | None = request.scope[_PRINCIPAL]
        return cached
    principal = _lookup(request)
    request.scope[_PRINCIPAL] = principal
    return principal


def _lookup(request: Request) -> Principal | None:
    meta = metadata_store(service_state(request).settings)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        # A bearer token is never sent by a browser on its own: no cross-site question.
        return meta.authenticate(header[7:].strip())
    session = request.cookies.get(COOKIE)
    if not session:
        return None
    principal = meta.session_principal(session)
    if principal is not None and request.method not in SAFE_METHODS and not same_origin(request):
        # The cookie is SameSite=Strict; the request must also prove it comes from our own
        # pages (Origin, else Referer): corrections, retries, uploads, sign-out.
        raise HTTPException(403, "cross-site request refused")
    return principal


def _role_check(
    roles: tuple[Role, ...], signed_out: Callable[[], Exception]
) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if principal is None:
            raise signed_out()
        if principal.role not in roles:
            raise HTTPException(403, f"not allowed for the {principal.role} role")
        return principal

    return dependency


def require(*roles: Role) -> Callable[[Request], Principal]:
    """For the API: no valid token is a 401."""
    return _role_check(
        roles,
        lambda: HTTPException(401, "a valid token is needed", {"WWW-Authenticate": "Bearer"}),
    )


def page_user(*roles: Role) -> Callable[[Request], Principal]:
    """For the pages: no valid token sends the browser to the sign-in page."""
    return _role_check(roles, NotSignedIn)


# Each check is made once and shared: a router's dependency and its routes' parameter are
# then the same dependency, which FastAPI solves once per request.
signed_in = require(Role.COUNTER, Role.AGENCY, Role.OPERATOR)
operator_only = require(Role.OPERATOR)
page_signed_in = page_user(Role.COUNTER, Role.AGENCY, Role.OPERATOR)
reader_page = page_user(Role.AGENCY, Role.OPERATOR)
operator_page = page_user(Role.OPERATOR)
counter_page = page_user(Role.COUNTER)

Counter = Annotated[Principal, Depends(require(Role.COUNTER))]
CounterOrOperator = Annotated[Principal, Depends(require(Role.COUNTER, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require(Role.AGENCY, Role.OPERATOR))]
Operator = Annotated[Principal, Depends(operator_only)]
AgencyOnly = Annotated[Principal, Depends(require(Role.AGENCY))]
Anyone = Annotated[Principal, Depends(signed_in)]

CounterPage = Annotated[Principal, Depends(counter_page)]
ReaderPage = Annotated[Principal, Depends(reader_page)]
# A dossier's page: also for the counter that uploaded it (visible_dossier's rule).
DossierPage = Annotated[Principal, Depends(page_signed_in)]
OperatorPage = Annotated[Principal, Depends(operator_page)]

# --- visibility ---------------------------------------------------------------------------


def visible_dossier(settings: Settings, principal: Principal, dossier_id: str) -> DossierInfo:
    """The dossier if this principal may see it; 404 otherwise (never 403: no probing).

    Decided first, by one indexed query filtered by the principal's scope, before anything
    of the dossier is loaded: a foreign id and a missing one cost the same (issue 31).
    Operators see every dossier, an agency its own archived ones, a counter those it
    uploaded itself (its token's batches, as ``visible_batch``); which routes a counter
    reaches at all is the routes' dependency's choice."""
    try:
        keys.check_id(dossier_id)
    except ValueError:
        raise HTTPException(404, "no such dossier") from None
    meta = metadata_store(settings)
    if not meta.dossier_visible(dossier_id, principal):
        raise HTTPException(404, "no such dossier")
    try:
        return meta.get_dossier(dossier_id)
    except DossierNotFoundError:  # gone in between
        raise HTTPException(404, "no such dossier") from None


def visible_batch(settings: Settings, principal: Principal, batch_id: str) -> BatchInfo:
    try:
        keys.check_id(batch_id)
        batch = metadata_store(settings).get_batch(batch_id)
    except (ValueError, DossierNotFoundError):
        raise HTTPException(404, "no such batch") from None
    if principal.role is Role.OPERATOR or (
        principal.role is Role.COUNTER and batch.token_id == principal.token_id
    ):
        return batch
    raise HTTPException(404, "no such batch")


def scoped_query(principal: Principal, query: SearchQuery) -> SearchQuery:
    """An agency searches only its own archived dossiers, whatever it asks for."""
    if principal.role is Role.AGENCY:
        return replace(query, agency_code=principal.agency_code, status=DossierStatus.ARCHIVED)
    return query
