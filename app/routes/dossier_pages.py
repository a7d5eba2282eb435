"""A dossier's page, for everyone who may see the dossier: its operators, its agency once
archived, and the counter that uploaded it (``app.auth.visible_dossier``'s rule). Server
rendered over the same functions the JSON API uses, so it never shows what the API would
refuse."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.auth import DossierPage, page_signed_in, visible_dossier
from app.originals import from_stack
from app.page_images import field_locations
from app.routes.state import Service
from app.views import dossier_json, download_name
from config import Settings
from models import DossierInfo, Role

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_signed_in)])


@router.get("/dossiers/{dossier_id}", response_class=HTMLResponse)
def dossier_page(
    request: Request,
    dossier_id: str,
    service: Service,
    principal: DossierPage,
    field: Annotated[str, Query(max_length=64, pattern=r"^[a-z_]*$")] = "",
) -> Response:
    settings = service.settings
    dossier = visible_dossier(settings, principal, dossier_id)
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
    return service.render(
        request, "dossier.html", principal, dossier=dossier_json(settings, principal, dossier),
        boxes=value_boxes(settings, dossier), focus=field,
        flagged={f.name for f in dossier.field_details if f.needs_review},
        download_stem=download_name(dossier, ""), stack=stack,
    )  # fmt: skip


def value_boxes(settings: Settings, dossier: DossierInfo) -> dict[str, dict[str, Any]]:
    """Boxes for every field with a value (the pages' OCR records are read once for them
    all): any field can be chosen and checked against the scan (issue 29, on a phone the
    page zooms to it). Those under review are marked; others only when chosen."""
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
    return boxes


def page_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """0-based page indices as people number pages: (2, 3, 4, 7) -> "3-5, 8"."""
    runs: list[list[int]] = []
    for number in sorted(i + 1 for i in indices):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
