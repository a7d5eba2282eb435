"""Agencies' search: by code, number, name, day received, status and full text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, literal_column, select, true

from models import SearchPage, SearchQuery
from models.codes import DOSSIER_CODE
from models.search import COUNT_CAP
from models.textfold import fold
from storage.metadata.base import StoreBase
from storage.metadata.records import _fold_text, _to_info
from storage.metadata.rows import DossierRow, DossierTextRow


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC already); a bound on the first or
    last day a datetime holds, whose UTC time falls outside it, is the farthest one."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_part(text: str) -> str:
    return "%" + _like_escape(text) + "%"


class SearchStore(StoreBase):
    """Search and count dossiers; the folded text of a page of results."""

    def search(self, query: SearchQuery) -> SearchPage:
        """Dossiers matching every criterion given, newest first, one page at a time."""
        conditions = self._search_conditions(query)
        order: tuple[Any, ...] = {
            "newest": (DossierRow.created_at.desc(), DossierRow.dossier_id.desc()),
            "oldest": (DossierRow.created_at.asc(), DossierRow.dossier_id.asc()),
            "code": (DossierRow.dossier_code.asc(), DossierRow.dossier_id.asc()),
            "name": (DossierRow.full_name_folded.asc(), DossierRow.dossier_id.asc()),
        }[query.sort]
        statement = (
            select(DossierRow)
            .where(and_(true(), *conditions))
            .order_by(*order)
            .limit(query.limit + 1)
            .offset(query.offset)
        )
        with self._session() as session:
            rows = session.scalars(statement).all()
            items = tuple(_to_info(row, with_pages=False) for row in rows[: query.limit])
        return SearchPage(items, query.limit, query.offset, has_more=len(rows) > query.limit)

    def count(self, query: SearchQuery, *, cap: int = COUNT_CAP) -> int:
        """How many dossiers match, counted up to ``cap`` (cap + 1 means "more"): a broad
        match over millions of rows is not counted to the end for one page of results."""
        matching = (
            select(DossierRow.dossier_id)
            .where(and_(true(), *self._search_conditions(query)))
            .limit(cap + 1)
            .subquery()
        )
        with self._session() as session:
            return int(session.scalar(select(func.count()).select_from(matching)) or 0)

    def search_texts(self, dossier_ids: Sequence[str]) -> dict[str, str]:
        """The folded OCR text of these dossiers (for snippets of one page of results)."""
        if not dossier_ids:
            return {}
        with self._session() as session:
            rows = session.execute(
                select(DossierTextRow.dossier_id, DossierTextRow.text_folded).where(
                    DossierTextRow.dossier_id.in_(list(dossier_ids))
                )
            ).all()
            return {dossier_id: text for dossier_id, text in rows}

    def _search_conditions(self, query: SearchQuery) -> list[Any]:
        conditions: list[Any] = []
        if query.dossier_code:
            code = query.dossier_code.strip().upper()
            if DOSSIER_CODE.match(code):
                conditions.append(DossierRow.dossier_code == code)
            else:
                # Any part: the unit, the date, the sequence number at its end.
                conditions.append(DossierRow.dossier_code.like(_like_part(code), escape="\\"))
        if query.id_number:
            number = "".join(query.id_number.split())
            if len(number) in (9, 12):
                conditions.append(DossierRow.id_number == number)
            else:
                conditions.append(DossierRow.id_number.like(_like_part(number), escape="\\"))
        if query.name:
            # Any part of the name: a given name alone ("lan") finds "Đặng Ngọc Hồng Lan".
            name = " ".join(fold(query.name).split())
            conditions.append(DossierRow.full_name_folded.like(_like_part(name), escape="\\"))
        if query.procedure:
            conditions.append(DossierRow.procedure == query.procedure)
        if query.agency_code is not None:
            conditions.append(DossierRow.agency_code == query.agency_code)
        # Bounds in UTC, as times are stored: SQLite compares the stored text and would
        # read a Vietnam-time bound (UTC+7) as UTC, losing the day's first seven hours.
        if query.received_from is not None:
            conditions.append(DossierRow.created_at >= _utc(query.received_from))
        if query.received_to is not None:
            conditions.append(DossierRow.created_at < _utc(query.received_to))
        if query.status is not None:
            conditions.append(DossierRow.status == query.status)
        if query.batch_id is not None:
            conditions.append(DossierRow.batch_id == query.batch_id)
        if query.needs_review is not None:
            conditions.append(DossierRow.needs_review.is_(query.needs_review))
        if query.text:
            conditions.append(self._text_condition(query.text))
        return conditions

    def _text_condition(self, text: str) -> Any:
        words = [w for w in _fold_text(text).split() if w]
        if not words:
            return true()
        texts = select(DossierTextRow.dossier_id)
        if self.is_postgresql:
            # Matches the expression index the migration creates (GIN over the tsvector).
            vector = func.to_tsvector(literal_column("'simple'"), DossierTextRow.text_folded)
            query = func.plainto_tsquery(literal_column("'simple'"), " ".join(words))
            texts = texts.where(vector.op("@@")(query))
        else:
            # Stored text is padded with a space at each end, so '% word %' is a whole word.
            texts = texts.where(
                *[
                    DossierTextRow.text_folded.like(f"% {_like_escape(w)} %", escape="\\")
                    for w in words
                ]
            )
        return DossierRow.dossier_id.in_(texts)
