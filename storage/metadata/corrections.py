"""Operators' corrections of fields and dismissals of reviews, kept as an audit trail."""

from __future__ import annotations

from sqlalchemy import select

from models import FieldCorrection, FieldState
from storage.metadata.base import StoreBase
from storage.metadata.records import apply_field_values
from storage.metadata.rows import EventRow, FieldCorrectionRow, FieldRow, as_utc, utc_now


class CorrectionStore(StoreBase):
    """Operators' field corrections and review dismissals, with their audit trail."""

    def correct_field(
        self,
        dossier_id: str,
        name: str,
        value: str,
        *,
        corrected_by: str,
        note: str | None = None,
        not_on_papers: bool = False,
    ) -> FieldCorrection:
        """An operator sets a field's value: the old one is kept in the audit trail.

        ``not_on_papers``: the operator found the value is on none of the papers; the field
        is kept, empty, in that state (so nobody asks again). The field no longer needs
        review; the dossier does while any other field or review reason (``"name: ..."``)
        remains. Values are checked by type before they get here (``pipeline.validate``).
        """
        if not corrected_by:
            raise ValueError("a correction needs the name of who made it")
        if not_on_papers:
            value = ""
        with self._session() as session:
            row = self._row(session, dossier_id)
            field = next((f for f in row.field_rows if f.name == name), None)
            old_value = field.value if field is not None else None
            if field is None:
                field = FieldRow(dossier_id=dossier_id, name=name, value=value, confidence=1.0)
                row.field_rows.append(field)
            field.value, field.source, field.confidence = value, "operator", 1.0
            field.needs_review = False
            field.note = note
            field.state = FieldState.NOT_ON_PAPERS if not_on_papers else FieldState.READ
            values = dict(row.fields or {})
            if not_on_papers:
                values.pop(name, None)
            else:
                values[name] = value
            apply_field_values(row, values)
            row.review_reasons = [
                r for r in (row.review_reasons or []) if not r.startswith(f"{name}:")
            ]
            row.needs_review = bool(row.review_reasons) or any(
                f.needs_review for f in row.field_rows
            )
            row.updated_at = now = utc_now()
            correction = FieldCorrectionRow(
                dossier_id=dossier_id,
                name=name,
                old_value=old_value,
                new_value=value,
                corrected_by=corrected_by,
                corrected_at=now,
                note=note,
            )
            session.add(correction)
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=row.status,
                    message=(
                        f"field {name}: not on the papers (was {old_value!r})"
                        if not_on_papers
                        else f"field {name} corrected: {old_value!r} -> {value!r}"
                    ),
                    actor=corrected_by,
                )
            )
            return FieldCorrection(
                dossier_id, name, old_value, value, corrected_by, as_utc(now), note
            )

    def dismiss_review(self, dossier_id: str, *, reason: str, dismissed_by: str) -> None:
        """An operator closes a dossier's review without changing a value (a page that can
        never be read, a value the paper itself has wrong): every flag is cleared and the
        reason kept in the history, with who gave it."""
        if not dismissed_by or not reason.strip():
            raise ValueError("a dismissal needs its reason and who made it")
        with self._session() as session:
            row = self._row(session, dossier_id)
            for field in row.field_rows:
                field.needs_review = False
            row.review_reasons = []
            row.needs_review = False
            row.updated_at = utc_now()
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=row.status,
                    message=f"review dismissed: {' '.join(reason.split())}",
                    actor=dismissed_by,
                )
            )

    def route_dossier(self, dossier_id: str, *, agency_code: str, routed_by: str) -> None:
        """An operator settles which agency receives a dossier whose code names another
        unit than the one chosen at upload: the agency is set, the mismatch reason cleared
        (the review ends when no other reason is left) and the decision kept in the history."""
        if not routed_by or not agency_code.strip():
            raise ValueError("routing needs the agency and who decided")
        with self._session() as session:
            row = self._row(session, dossier_id)
            before = row.agency_code
            row.agency_code = agency_code.strip()
            row.review_reasons = [
                r for r in row.review_reasons or [] if ": agency_mismatch: " not in r
            ]
            row.needs_review = bool(row.review_reasons) or any(
                f.needs_review for f in row.field_rows
            )
            row.updated_at = utc_now()
            session.add(
                EventRow(
                    dossier_id=dossier_id,
                    status=row.status,
                    message=f"routed to agency {row.agency_code} (was {before or '-'})",
                    actor=routed_by,
                )
            )

    def corrections(self, dossier_id: str) -> list[FieldCorrection]:
        with self._session() as session:
            rows = session.scalars(
                select(FieldCorrectionRow)
                .where(FieldCorrectionRow.dossier_id == dossier_id)
                .order_by(FieldCorrectionRow.correction_id)
            ).all()
            return [
                FieldCorrection(
                    r.dossier_id,
                    r.name,
                    r.old_value,
                    r.new_value,
                    r.corrected_by,
                    as_utc(r.corrected_at),
                    r.note,
                )
                for r in rows
            ]
