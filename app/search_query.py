"""One ``SearchQuery`` from what a caller asked, whoever asks: ``sohoa search``'s options,
``GET /api/dossiers``' parameters, the search page's form (issue 30: it was built three
times, each with its own idea of an empty field or a day).

A day may come as text: a received bound as ``models.search.received_day`` reads it (a day
in Vietnam, or an ISO moment), a day on the paper as YYYY-MM-DD. Empty text is a criterion
not given. Anything out of bounds is a ValueError naming it (the callers answer 422, or the
CLI's usage error)."""

from __future__ import annotations

from datetime import date, datetime

from models import DossierStatus, SearchQuery
from models.search import check_text_query, received_day


def search_query(
    *,
    code: str | None = None,
    id_number: str | None = None,
    name: str | None = None,
    procedure: str | None = None,
    agency: str | None = None,
    text: str | None = None,
    status: DossierStatus | None = None,
    needs_review: bool | None = None,
    received_from: datetime | str | None = None,
    received_to: datetime | str | None = None,
    paper_from: date | str | None = None,
    paper_to: date | str | None = None,
    limit: int = 20,
    offset: int = 0,
    sort: str = "newest",
) -> SearchQuery:
    if text:
        check_text_query(text)  # first: the bound a long query passed is what is said
    return SearchQuery(
        dossier_code=code or None,
        id_number=id_number or None,
        name=name or None,
        procedure=procedure or None,
        agency_code=agency,  # as asked: an empty one is an agency no dossier has
        received_from=_moment(received_from, end=False),
        received_to=_moment(received_to, end=True),
        text=text or None,
        status=status,
        needs_review=needs_review,
        paper_from=_day(paper_from),
        paper_to=_day(paper_to),
        limit=limit,
        offset=offset,
        sort=sort,
    )


def _moment(asked: datetime | str | None, *, end: bool) -> datetime | None:
    if isinstance(asked, str):
        return received_day(asked, end=end) if asked else None
    return asked


def _day(asked: date | str | None) -> date | None:
    if not isinstance(asked, str):
        return asked
    if not asked:
        return None
    try:
        return date.fromisoformat(asked)
    except ValueError:
        raise ValueError(f"not a date: {asked!r} (use YYYY-MM-DD)") from None
