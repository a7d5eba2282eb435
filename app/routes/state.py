"""What every route shares, on ``app.state.service``: read through the ``Service``
dependency (or ``service_state`` outside a route), never captured in a closure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from app.i18n import Messages
from app.metrics import Metrics
from app.runner import BatchRunner
from config import Settings
from models import Principal, Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Where a signed-in person lands first.
HOME = {Role.COUNTER: "/upload", Role.AGENCY: "/search", Role.OPERATOR: "/ops"}


@dataclass(frozen=True)
class ServiceState:
    """One app's settings, its processing runner, its metrics, its pages and their words."""

    settings: Settings
    runner: BatchRunner
    metrics: Metrics
    templates: Jinja2Templates
    messages: Messages

    def render(
        self, request: Request, name: str, principal: Principal | None, **context: Any
    ) -> Response:
        """A page from ``app/templates``, with who is signed in and where home is."""
        return self.templates.TemplateResponse(
            request, name, {"user": principal, "home": HOME, **context}
        )


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


Service = Annotated[ServiceState, Depends(service_state)]


def page_templates(messages: Messages) -> Jinja2Templates:
    """The pages' templates, the catalogue's words as their filters: ``{{ d.status | status }}``."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
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
    return templates
