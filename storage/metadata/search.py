"""Agencies' search: by code, number, name, day received, status and full text."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, column, func, literal_column, select, table, true

from models import SearchPage, SearchQuery
from models.codes import DOSSIER_CODE
from models.search import COUNT_CAP, TextQuery, parse_text_query
from models.textfold import fold
from storage.metadata.base import StoreBase
from storage.metadata.records import dossier_info
from storage.metadata.rows import DossierRow, DossierTextRow, SavedSearchRow

# PostgreSQL ranks at most this many matches of a text query, the newest: a word found in
# every dossier is not ranked over millions of them for one page of results.
RANK_CAP = 5000
# Saved searches one owner may keep: a list on the search page, not an archive.
MAX_SAVED = 50


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC already); a bound on the first or
    last day a datetime holds, whose UTC time falls outside it, is the farthest one."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


# SQLite's FTS5 table over dossier_texts (migration 0010, kept by triggers).
_FTS = table("dossier_texts_fts", column("dossier_id"), column("text_folded"))
_FTS_NAME: Any = literal_column("dossier_texts_fts")
# PostgreSQL's stored tsvector of dossier_texts (migration 0010; not in the ORM: SQLite's
# table has none).
_TSV: Any = literal_column("dossier_texts.text_tsv")


def _fts_match(words: tuple[str, ...], phrases: tuple[tuple[str, ...], ...]) -> str:
    """An FTS5 query: each word, and each phrase, in double quotes (ANDed). Words are
    letters and digits only (parse_text_query), so none can close a quote."""
    return " ".join([f'"{w}"' for w in words] + [f'"{" ".join(p)}"' for p in phrases])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_part(text: str) -> str:
    return "%" + _like_escape(text) + "%"


class SearchStore(StoreBase):
    """Search and count dossiers; the folded text of a page of results."""

    def search(self, query: SearchQuery) -> SearchPage:
        """Dossiers matching every criterion given, one page at a time: newest first, or
        by ``query.sort``; "relevance" ranks a text query's best matches first."""
        if query.sort == "relevance" and query.text:
            parsed = parse_text_query(query.text)
            if parsed.words:
                return self._ranked(query, parsed)
        conditions = self._search_conditions(query)
        order: tuple[Any, ...] = {
            "newest": (DossierRow.created_at.desc(), DossierRow.dossier_id.desc()),
            "oldest": (DossierRow.created_at.asc(), DossierRow.dossier_id.asc()),
            "code": (DossierRow.dossier_code.asc(), DossierRow.dossier_id.asc()),
            "name": (DossierRow.full_name_folded.asc(), DossierRow.dossier_id.asc()),
            "relevance": (DossierRow.created_at.desc(), DossierRow.dossier_id.desc()),
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
            items = tuple(dossier_info(row, with_pages=False) for row in rows[: query.limit])
        return SearchPage(items, query.limit, query.offset, has_more=len(rows) > query.limit)

    def _ranked(self, query: SearchQuery, parsed: TextQuery) -> SearchPage:
        """A text query's matches, best first: those holding the whole query as a phrase
        (when it was typed without quotes), then by rank (PostgreSQL: ts_rank_cd, which
        rewards words close together, among the newest RANK_CAP matches; SQLite: FTS5's
        bm25), then newest."""
        conditions = self._search_conditions(query, with_text=False)
        if self.is_postgresql:
            vector = _TSV
            wanted = _ts_query(parsed.words, parsed.phrases)
            rank = func.ts_rank_cd(vector, wanted)
            if parsed.hint:
                hinted = vector.op("@@")(_phrase(parsed.hint))
                first: Any = case((hinted, 1), else_=0)
            else:
                first = literal_column("0")
            # Ranking reads every candidate's vector: the newest RANK_CAP matches are the
            # candidates (20,000 texts of 600 words, all matching: 0.4 s; capped: ~0.1 s).
            candidates = (
                select(DossierRow.dossier_id)
                .join(DossierTextRow, DossierTextRow.dossier_id == DossierRow.dossier_id)
                .where(and_(true(), *conditions), vector.op("@@")(wanted))
                .order_by(DossierRow.created_at.desc(), DossierRow.dossier_id.desc())
                .limit(RANK_CAP)
                .subquery()
            )
            matches = (
                select(
                    DossierTextRow.dossier_id.label("dossier_id"),
                    first.label("first"),
                    rank.label("score"),
                )
                .join(candidates, candidates.c.dossier_id == DossierTextRow.dossier_id)
                .subquery()
            )
            order: tuple[Any, ...] = (matches.c.first.desc(), matches.c.score.desc())
        else:
            if parsed.hint:
                phrase = select(_FTS.c.dossier_id).where(
                    _FTS_NAME.op("MATCH")(_fts_match((), (parsed.hint,)))
                )
                first = case((_FTS.c.dossier_id.in_(phrase), 1), else_=0)
            else:
                first = literal_column("0")
            matches = (
                select(
                    _FTS.c.dossier_id.label("dossier_id"),
                    first.label("first"),
                    func.bm25(_FTS_NAME).label("score"),
                )
                .where(_FTS_NAME.op("MATCH")(_fts_match(parsed.words, parsed.phrases)))
                .subquery()
            )
            order = (matches.c.first.desc(), matches.c.score.asc())
        statement = (
            select(DossierRow)
            .join(matches, matches.c.dossier_id == DossierRow.dossier_id)
            .where(and_(true(), *conditions))
            .order_by(*order, DossierRow.created_at.desc(), DossierRow.dossier_id.desc())
            .limit(query.limit + 1)
            .offset(query.offset)
        )
        with self._session() as session:
            rows = session.scalars(statement).all()
            items = tuple(dossier_info(row, with_pages=False) for row in rows[: query.limit])
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

    def save_search(self, owner: str, name: str, query: str) -> str | None:
        """Keep ``query`` (a search page's query string) under ``name`` for ``owner``; the
        same name again replaces it. None when the owner already keeps MAX_SAVED."""
        with self._session() as session:
            same = session.scalars(
                select(SavedSearchRow).where(
                    SavedSearchRow.owner == owner, SavedSearchRow.name == name
                )
            ).first()
            if same is not None:
                same.query = query
                return same.search_id
            kept = session.scalar(select(func.count()).where(SavedSearchRow.owner == owner))
            if int(kept or 0) >= MAX_SAVED:
                return None
            search_id = secrets.token_hex(8)
            session.add(SavedSearchRow(search_id=search_id, owner=owner, name=name, query=query))
            return search_id

    def saved_searches(self, owner: str) -> list[tuple[str, str, str]]:
        """(id, name, query string) of the searches ``owner`` saved, newest first."""
        with self._session() as session:
            rows = session.execute(
                select(SavedSearchRow.search_id, SavedSearchRow.name, SavedSearchRow.query)
                .where(SavedSearchRow.owner == owner)
                .order_by(SavedSearchRow.created_at.desc(), SavedSearchRow.search_id)
                .limit(MAX_SAVED)
            ).all()
            return [(i, n, q) for i, n, q in rows]

    def delete_saved_search(self, owner: str, search_id: str) -> bool:
        """Forget one of ``owner``'s saved searches (another owner's is never touched)."""
        with self._session() as session:
            row = session.get(SavedSearchRow, search_id)
            if row is None or row.owner != owner:
                return False
            session.delete(row)
            return True

    def _search_conditions(self, query: SearchQuery, *, with_text: bool = True) -> list[Any]:
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
        if query.paper_from is not None:
            conditions.append(DossierRow.received_on >= query.paper_from)
        if query.paper_to is not None:
            conditions.append(DossierRow.received_on <= query.paper_to)
        if query.status is not None:
            conditions.append(DossierRow.status == query.status)
        if query.batch_id is not None:
            conditions.append(DossierRow.batch_id == query.batch_id)
        if query.needs_review is not None:
            conditions.append(DossierRow.needs_review.is_(query.needs_review))
        if query.text and with_text:
            conditions.append(self._text_condition(query.text))
        return conditions

    def _text_condition(self, text: str) -> Any:
        """Every word, and each quoted phrase as a phrase."""
        parsed = parse_text_query(text)
        if not parsed.words:
            return true()
        if self.is_postgresql:
            # The stored tsvector and its GIN index (migration 0010).
            vector = _TSV
            wanted = _ts_query(parsed.words, parsed.phrases)
            texts = select(DossierTextRow.dossier_id).where(vector.op("@@")(wanted))
        else:
            texts = select(_FTS.c.dossier_id).where(
                _FTS_NAME.op("MATCH")(_fts_match(parsed.words, parsed.phrases))
            )
        return DossierRow.dossier_id.in_(texts)


def _phrase(words: tuple[str, ...]) -> Any:
    return func.phraseto_tsquery(literal_column("'simple'"), " ".join(words))


def _ts_query(words: tuple[str, ...], phrases: tuple[tuple[str, ...], ...]) -> Any:
    """Every word (plainto_tsquery ANDs them) and each phrase (phraseto_tsquery), joined
    with && in SQL: the words are bound values, never tsquery syntax."""
    wanted: Any = func.plainto_tsquery(literal_column("'simple'"), " ".join(words))
    for phrase in phrases:
        wanted = wanted.op("&&")(_phrase(phrase))
    return wanted
