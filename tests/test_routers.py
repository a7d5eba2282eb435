"""The web surface is assembled from one router per user (issue 30): every route of the app
is in exactly one of them, and every route of a protected router refuses a caller who is
not signed in (the API with 401, a page by sending the browser to sign in), so a route
added to a router without a check of its own is still refused to a stranger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.service import ROUTERS, create_app
from config import Settings
from tests.service_support import World, idle_world, open_world, run_nothing

# Open to anyone: the sign-in pages; what machines call (health, metrics when public, a
# paper behind its own signed link).
OPEN = {"sign_in", "machine"}
OPERATORS = {"operator_api", "operator_pages", "review_desk"}
PAGES = {"counter_pages", "dossier_pages", "agency_pages", "operator_pages", "review_desk"}


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with idle_world(tmp_path / "data", database_url) as world:
        yield world


def _routes(router_name: str) -> list[APIRoute]:
    return [r for r in ROUTERS[router_name].routes if isinstance(r, APIRoute)]


def _calls(router_name: str) -> Iterator[tuple[str, str]]:
    """(method, a concrete path) for every route of the router; path parameters filled with
    a value of the right shape (a page number, an id)."""
    for route in _routes(router_name):
        path = re.sub(r"\{(number|outbox_id)\}", "1", route.path)
        path = re.sub(r"\{[a-z_]+\}", "x1", path)
        for method in sorted(route.methods):
            yield method, path


def test_every_route_of_the_app_is_in_exactly_one_router(world: World) -> None:
    owners: dict[tuple[str, str], list[str]] = {}
    for name in ROUTERS:
        for route in _routes(name):
            for method in route.methods:
                owners.setdefault((method, route.path), []).append(name)
    assert all(len(names) == 1 for names in owners.values()), owners
    # What the app serves (its included routers walked into) is exactly the routers' own
    # route objects, each once.
    app = create_app(world.settings, runner=world.runner)
    served = [c.original_route for c in iter_route_contexts(app.routes)]
    api_routes = [r for r in served if isinstance(r, APIRoute)]
    in_routers = [r for name in ROUTERS for r in _routes(name)]
    assert len(api_routes) == len(in_routers) == len({id(r) for r in api_routes})
    assert {id(r) for r in api_routes} == {id(r) for r in in_routers}
    # Nothing stands beside the routers but the schema, the docs and /static.
    others = {getattr(r, "path", None) for r in served if not isinstance(r, APIRoute)}
    assert others <= {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}
    # Known routes are where they belong.
    assert owners[("POST", "/api/batches")] == ["counter_api"]
    assert owners[("GET", "/api/dossiers/{dossier_id}/pdf")] == ["agency_api"]
    assert owners[("PATCH", "/api/dossiers/{dossier_id}/fields/{name}")] == ["operator_api"]
    assert owners[("GET", "/healthz")] == ["machine"]
    assert owners[("GET", "/search")] == ["agency_pages"]


@pytest.mark.parametrize("router_name", sorted(set(ROUTERS) - OPEN))
def test_every_route_of_a_protected_router_refuses_a_stranger(
    world: World, router_name: str
) -> None:
    assert ROUTERS[router_name].dependencies, f"{router_name} checks nobody"
    calls = list(_calls(router_name))
    assert calls
    for method, path in calls:
        answer = world.client.request(method, path, follow_redirects=False)
        if router_name in PAGES:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login?next="), (method, path)
        else:
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("router_name", sorted(OPERATORS))
def test_an_operators_router_refuses_every_other_role(world: World, router_name: str) -> None:
    for who in ("counter", "agency_a"):
        for method, path in _calls(router_name):
            answer = world.client.request(method, path, headers=world.auth(who))
            assert answer.status_code == 403, (who, method, path, answer.status_code)


def test_the_open_routes_answer_without_a_token(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with idle_world(settings.data_dir, database_url) as world:
        assert world.client.get("/healthz").json() == {"status": "ok"}
        assert world.client.get("/login").status_code == 200
        # A paper's link is its own credential: without its signature, a 403, not a 401.
        assert world.client.get("/api/handoff/x1/1.pdf").status_code == 403


def test_a_routers_route_is_counted_under_its_own_name(tmp_path: Path, database_url: str) -> None:
    """The metrics label a route by its template, those of included routers too (an
    included router is one entry of app.routes: its routes were all counted as "other")."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, metrics_public=True)
    with open_world(settings, run=run_nothing) as world:
        world.client.get("/api/dossiers/x1/handoff")
        metrics = world.client.get("/metrics").text
    assert 'route="/api/dossiers/{dossier_id}/handoff",status="401"' in metrics
    assert 'route="other"' not in metrics
