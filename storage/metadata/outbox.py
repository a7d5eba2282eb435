"""Pushes to agencies (issue 27): endpoints, the transactional outbox, statuses back.

The outbox row of an archived dossier is written by ``enqueue_push`` inside the
transaction of ``DossierLifecycle.mark_archived``: a dossier is archived with its push
owed, or neither. A pusher claims due rows (``claim_due``: PostgreSQL's ``FOR UPDATE SKIP
LOCKED`` lets several pushers share the table; SQLite's one writer at a time does the
same), sends, then marks them delivered or failed. A claim is a lease: a pusher killed
between sending and marking leaves its rows to be claimed again when the lease ends, and
the agency sees the same ``Idempotency-Key`` twice, which is what the key is for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import DossierStatus
from models.push import AgencyPush, OutboxItem, OutboxState, StatusReport
from storage.metadata.base import StoreBase
from storage.metadata.rows import (
    AgencyPushRow,
    AgencyStatusRow,
    DossierRow,
    EventRow,
    OutboxRow,
    as_utc,
    utc_now,
)

ARCHIVED_EVENT = "archived"


def enqueue_push(session: Session, dossier_id: str, agency_code: str | None) -> None:
    """Owe the dossier's agency a push, if it has an endpoint (inside the caller's
    transaction). A push still owed is not doubled: it is built when sent, so it carries
    the dossier as it is then (a rescan archived again before the first push went)."""
    if not agency_code:
        return
    target = session.get(AgencyPushRow, agency_code)
    if target is None or not target.enabled:
        return
    rows = session.scalars(
        select(OutboxRow).where(
            OutboxRow.dossier_id == dossier_id,
            OutboxRow.agency_code == agency_code,
            OutboxRow.event == ARCHIVED_EVENT,
        )
    ).all()
    if any(r.state in (OutboxState.PENDING, OutboxState.SENDING) for r in rows):
        return
    now = utc_now()
    session.add(
        OutboxRow(
            dossier_id=dossier_id,
            agency_code=agency_code,
            idempotency_key=f"sohoa:{dossier_id}:{ARCHIVED_EVENT}:{len(rows) + 1}",
            event=ARCHIVED_EVENT,
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _item(row: OutboxRow, push: AgencyPushRow | None = None) -> OutboxItem:
    return OutboxItem(
        outbox_id=row.outbox_id,
        dossier_id=row.dossier_id,
        agency_code=row.agency_code,
        idempotency_key=row.idempotency_key,
        event=row.event,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        delivered_at=as_utc(row.delivered_at) if row.delivered_at else None,
        url=push.url if push else None,
        secret=push.secret if push else None,
    )


class OutboxStore(StoreBase):
    # --- agencies' endpoints ----------------------------------------------------------------

    def set_agency_push(
        self, agency_code: str, url: str, secret: str, *, enabled: bool = True
    ) -> None:
        with self._session() as session:
            row = session.get(AgencyPushRow, agency_code)
            if row is None:
                row = AgencyPushRow(agency_code=agency_code)
                session.add(row)
            row.url, row.secret, row.enabled, row.updated_at = url, secret, enabled, utc_now()

    def agency_push(self, agency_code: str) -> AgencyPush | None:
        with self._session() as session:
            row = session.get(AgencyPushRow, agency_code)
            if row is None:
                return None
            return AgencyPush(
                row.agency_code, row.url, row.secret, row.enabled, as_utc(row.updated_at)
            )

    def agency_pushes(self) -> list[AgencyPush]:
        with self._session() as session:
            rows = session.scalars(select(AgencyPushRow).order_by(AgencyPushRow.agency_code))
            return [
                AgencyPush(r.agency_code, r.url, r.secret, r.enabled, as_utc(r.updated_at))
                for r in rows
            ]

    # --- the outbox -------------------------------------------------------------------------

    def enqueue_archived(self, dossier_id: str) -> None:
        """Owe the push of an already archived dossier (its agency got an endpoint later)."""
        with self._session() as session:
            row = self._row(session, dossier_id)
            if row.status == DossierStatus.ARCHIVED:
                enqueue_push(session, dossier_id, row.agency_code)

    def claim_due(
        self, *, limit: int, lease: timedelta, now: datetime | None = None
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due pushes for ``lease`` (each claim counts as an attempt)."""
        now = now or utc_now()
        query = (
            select(OutboxRow)
            .where(
                or_(
                    (OutboxRow.state == OutboxState.PENDING) & (OutboxRow.next_attempt_at <= now),
                    (OutboxRow.state == OutboxState.SENDING) & (OutboxRow.claimed_until < now),
                )
            )
            .order_by(OutboxRow.next_attempt_at, OutboxRow.outbox_id)
            .limit(limit)
        )
        if self.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        with self._session() as session:
            rows = session.scalars(query).all()
            items = []
            for row in rows:
                row.state = OutboxState.SENDING
                row.claimed_until = now + lease
                row.attempts += 1
                items.append(_item(row, session.get(AgencyPushRow, row.agency_code)))
            return items

    def mark_delivered(self, outbox_id: int, *, payload_sha256: str) -> None:
        with self._session() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.state == OutboxState.DELIVERED:
                return
            row.state, row.delivered_at = OutboxState.DELIVERED, utc_now()
            row.payload_sha256, row.last_error, row.claimed_until = payload_sha256, None, None
            session.add(
                EventRow(
                    dossier_id=row.dossier_id,
                    status="pushed",
                    message=f"delivered to {row.agency_code} ({row.idempotency_key})",
                )
            )

    def mark_failed(self, outbox_id: int, *, error: str, retry_at: datetime | None) -> None:
        """A failed attempt: due again at ``retry_at``, or dead (None)."""
        with self._session() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.state == OutboxState.DELIVERED:
                return
            row.last_error, row.claimed_until = error[:2000], None
            if retry_at is None:
                row.state = OutboxState.DEAD
                session.add(
                    EventRow(
                        dossier_id=row.dossier_id,
                        status="push-dead",
                        message=f"not delivered to {row.agency_code} after "
                        f"{row.attempts} attempts: {error[:300]}",
                    )
                )
            else:
                row.state, row.next_attempt_at = OutboxState.PENDING, retry_at

    def resend(self, outbox_id: int, *, actor: str | None = None) -> bool:
        """A dead letter due again now, its attempts counted afresh; False if not dead."""
        with self._session() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.state != OutboxState.DEAD:
                return False
            row.state, row.attempts, row.next_attempt_at = OutboxState.PENDING, 0, utc_now()
            session.add(
                EventRow(dossier_id=row.dossier_id, status="push-resend", actor=actor,
                         message=f"resend to {row.agency_code} ({row.idempotency_key})")
            )  # fmt: skip
            return True

    def outbox(self, *, state: str | None = None, limit: int = 100) -> list[OutboxItem]:
        query = select(OutboxRow).order_by(OutboxRow.outbox_id.desc()).limit(limit)
        if state is not None:
            query = query.where(OutboxRow.state == state)
        with self._session() as session:
            return [_item(row) for row in session.scalars(query)]

    def outbox_counts(self) -> dict[str, int]:
        with self._session() as session:
            found = dict(
                session.execute(
                    select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
                ).all()
            )
        return {str(s): int(found.get(str(s), 0)) for s in OutboxState}

    # --- statuses back ----------------------------------------------------------------------

    def record_agency_status(self, report: StatusReport) -> None:
        with self._session() as session:
            session.add(
                AgencyStatusRow(
                    dossier_id=report.dossier_id,
                    agency_code=report.agency_code,
                    status=report.status,
                    at=report.at,
                    note=report.note,
                    recorded_at=utc_now(),
                )
            )
            session.add(
                EventRow(
                    dossier_id=report.dossier_id,
                    status="agency",
                    message=f"{report.status}: {report.note}" if report.note else report.status,
                    actor=report.agency_code,
                )
            )

    def agency_statuses(self, dossier_ids: list[str]) -> dict[str, StatusReport]:
        """The latest status each agency sent for each of ``dossier_ids`` (by its own time)."""
        if not dossier_ids:
            return {}
        with self._session() as session:
            rows = session.scalars(
                select(AgencyStatusRow)
                .where(AgencyStatusRow.dossier_id.in_(dossier_ids))
                .order_by(AgencyStatusRow.at, AgencyStatusRow.status_id)
            ).all()
            latest: dict[str, StatusReport] = {}
            for row in rows:
                latest[row.dossier_id] = StatusReport(
                    row.dossier_id, row.agency_code, row.status, as_utc(row.at), row.note
                )
            return latest


__all__ = ["ARCHIVED_EVENT", "DossierRow", "OutboxStore", "enqueue_push"]
