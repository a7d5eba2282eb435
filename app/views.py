"""The JSON shapes the API answers and the pages render: batches, dossiers, ops."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from app.counter_words import verdict_view
from app.i18n import Messages, load_messages
from app.runner import BatchRunner
from config import Settings
from config.catalogue import load_catalogue
from flows.runtime import metadata_store, object_store
from models import BatchInfo, DossierInfo, DossierStatus, Principal, Role, SearchQuery
from models.codes import receiving_unit
from models.errors import StorageError
from models.push import StatusReport
from pipeline.counter import counter_verdict
from storage.archive import read_manifest


def messages_for(settings: Settings) -> Messages:
    return load_messages(settings.locale, settings.catalogue_path)


def other_unit(dossier_code: str | None, agency_code: str | None) -> str | None:
    """The receiving unit a dossier code names when it is not the agency the batch was
    sent to: the counter likely picked the wrong agency."""
    unit = receiving_unit(dossier_code)
    return unit if unit and agency_code and unit != agency_code else None


def dossier_verdict(settings: Settings, dossier: DossierInfo, words: Messages) -> dict[str, Any]:
    """The counter's verdict on one dossier, in words (a finished one read whole: the
    batch listing carries no pages)."""
    if dossier.status in (DossierStatus.ARCHIVED, DossierStatus.FAILED) and not dossier.pages:
        dossier = metadata_store(settings).get_dossier(dossier.dossier_id)
    verdict = counter_verdict(dossier, load_catalogue(settings.catalogue_path))
    return verdict_view(verdict, words, file=dossier.source_name)


def process_report(settings: Settings, dossier: DossierInfo, words: Messages) -> dict[str, Any]:
    """One dossier in ``sohoa process``'s report, with the counter's verdict (issue 26)."""
    return {
        "dossier_id": dossier.dossier_id,
        "source": dossier.source_name,
        "status": str(dossier.status),
        "pages": dossier.page_count,
        "dossier_code": dossier.dossier_code,
        "fields": dossier.fields,
        "needs_review": dossier.needs_review,
        "review_reasons": list(dossier.review_reasons),
        "duplicate_of": dossier.duplicate_of,
        "verdict": dossier_verdict(settings, dossier, words),
    }


def earlier_copy(
    settings: Settings, principal: Principal, duplicate_of: str | None
) -> tuple[str | None, str | None]:
    """(id, dossier code) of the dossier a duplicate repeats, for this principal: named only
    when it may open that dossier (an operator; a counter its own token's), so a counter
    never learns of another counter's dossier; (None, None) otherwise: "the same file was
    already received", without saying where."""
    if duplicate_of is None:
        return None, None
    meta = metadata_store(settings)
    if not meta.dossier_visible(duplicate_of, principal):
        return None, None
    return duplicate_of, meta.dossier_code(duplicate_of)


def batch_json(settings: Settings, batch: BatchInfo, principal: Principal) -> dict[str, Any]:
    meta = metadata_store(settings)
    words = messages_for(settings)
    dossiers = meta.batch_dossiers(batch.batch_id)
    rows = meta.pages_done(batch.batch_id)
    # Pages read, per dossier, never going back (issue 29: 13/13 then 12/13): a stack's
    # page rows all sit on its first dossier until it is archived with its own part only,
    # while the dossiers split from it were created after their pages were read.
    per_dossier = {
        d.dossier_id: d.page_count
        if d.status is DossierStatus.ARCHIVED or d.source_dossier_id is not None
        else min(rows.get(d.dossier_id, 0), d.page_count)
        for d in dossiers
    }
    agency_says = meta.agency_statuses([d.dossier_id for d in dossiers])  # issue 27
    earlier = {d.dossier_id: earlier_copy(settings, principal, d.duplicate_of) for d in dossiers}
    done, total = sum(per_dossier.values()), sum(d.page_count for d in dossiers)
    finished = all(
        d.status in (DossierStatus.ARCHIVED, DossierStatus.FAILED, DossierStatus.DUPLICATE)
        for d in dossiers
    )
    return {
        "batch_id": batch.batch_id,
        "created_at": batch.created_at.isoformat(),
        "uploaded_by": batch.uploaded_by,
        "uploaded_by_account": batch.uploaded_by_account,
        "counter_id": batch.counter_id,
        "post_office_id": batch.post_office_id,
        "agency": batch.agency_code,
        "procedure": batch.procedure,
        "files": batch.source_count,
        "progress": {"pages_done": min(done, total), "pages_total": total},
        "finished": finished and bool(dossiers),
        "flow_run_id": batch.flow_run_id,
        "dossiers": [
            {
                "dossier_id": d.dossier_id,
                "source": d.source_name,
                "status": str(d.status),
                "pages": d.page_count,
                "pages_done": per_dossier[d.dossier_id],
                "dossier_code": d.dossier_code,
                "needs_review": d.needs_review,
                "error": d.error,
                # Named only to whoever may open the earlier dossier: its id, and the code
                # the counter's page shows (the internal id means nothing at a counter).
                "duplicate_of": earlier[d.dossier_id][0],
                "duplicate_code": earlier[d.dossier_id][1],
                # For the counter's page: the catalogue's words, never raw library text.
                "status_text": words.status(d.status),
                "error_text": words.error(d.error, file=d.source_name) if d.error else None,
                "other_unit": other_unit(d.dossier_code, batch.agency_code),
                "verdict": dossier_verdict(settings, d, words),
                # The hand-over receipt, once the original is stored (not for a duplicate).
                "receipt_url": receipt_url(d) if d.original_sha256 else None,
                **agency_status_json(words, agency_says.get(d.dossier_id)),
            }
            for d in dossiers
        ],
    }


def agency_status_json(words: Messages, said: StatusReport | None) -> dict[str, Any]:
    """What the agency last said of the dossier, for the counter to tell the citizen."""
    if said is None:
        return {"agency_status": None, "agency_status_text": None, "agency_status_at": None}
    return {
        "agency_status": said.status,
        "agency_status_text": words.word("agency_status", said.status),
        "agency_status_at": said.at.isoformat(),
    }


def receipt_url(dossier: DossierInfo) -> str:
    return f"/api/dossiers/{dossier.dossier_id}/receipt.pdf"


def dossier_json(settings: Settings, principal: Principal, dossier: DossierInfo) -> dict[str, Any]:
    data = dossier.summary()
    data["fields"] = {f.name: f.to_json() for f in dossier.field_details}
    data["pages"] = [
        {
            "number": p.index + 1,
            "kind": p.kind,
            "blank": p.blank,
            "dpi": p.dpi,
            "ocr_confidence": None if p.ocr_confidence is None else round(p.ocr_confidence, 1),
            "warnings": list(p.warnings),
            "image": f"/api/dossiers/{dossier.dossier_id}/pages/{p.index + 1}.jpg",
        }
        for p in dossier.pages
    ]
    data["downloads"] = {
        name: f"/api/dossiers/{dossier.dossier_id}/{name}" for name in ("pdf", "fields", "original")
    }
    data["downloads"]["receipt"] = receipt_url(dossier)
    data["duplicate_of"] = earlier_copy(settings, principal, dossier.duplicate_of)[0]
    if principal.role is Role.COUNTER:
        # A counter checks its scan (pages, PDF, original, receipt); the fields' JSON, the
        # history and the corrections are the agency's and operators'.
        del data["downloads"]["fields"]
    data["signature"] = signature_of(settings, dossier)
    if principal.role is Role.AGENCY:
        # The agency reads its dossier's history too (issue 29): when it was received,
        # processed, archived, which fields were corrected from what to what, routed,
        # rescanned. Not shown: who acted (operators' names), a failure's error text, an
        # operator's dismissal note (free text) and another dossier's id.
        data["events"] = agency_events(metadata_store(settings).events(dossier.dossier_id))
    if principal.role is Role.OPERATOR:
        meta = metadata_store(settings)
        data["events"] = [
            {"at": at.isoformat(), "status": status, "message": message}
            for at, status, message in meta.events(dossier.dossier_id)
        ]
        data["corrections"] = [
            {
                "field": c.name,
                "old_value": c.old_value,
                "new_value": c.new_value,
                "by": c.corrected_by,
                "at": c.corrected_at.isoformat(),
                "note": c.note,
            }
            for c in meta.corrections(dossier.dossier_id)
        ]
    return data


# History lines whose words an agency may read (the catalogue's [[event]] words).
AGENCY_EVENT = re.compile(
    r"^(?:field [a-z_]+ corrected: |routed to agency |rescan \d+: |needs review: |retry requested$)"
)
# The dossier's own statuses (an agency's status reports and the push outbox are not its
# scan's history).
AGENCY_STATUSES = frozenset(s.value for s in DossierStatus)


def agency_events(events: list[tuple[datetime, str, str | None]]) -> list[dict[str, Any]]:
    """A dossier's history as its agency reads it: each step's time and status, with its
    message only when it is one of AGENCY_EVENT's; a repeated bare status is shown once."""
    shown: list[dict[str, Any]] = []
    for at, status, message in events:
        if status not in AGENCY_STATUSES:
            continue
        kept = message if message and AGENCY_EVENT.match(message) else None
        if shown and kept is None and shown[-1]["status"] == status:
            continue
        shown.append({"at": at.isoformat(), "status": status, "message": kept})
    return shown


def download_name(dossier: DossierInfo, suffix: str) -> str:
    """A download's file name: the dossier code people file it under (else the id), cut
    to characters every file system and the Content-Disposition header take as they are
    (a code read from a QR is a client's text: no quote, slash or newline gets through)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", dossier.dossier_code or "").strip("._")[:80]
    return f"{stem or dossier.dossier_id}{suffix}"


def signature_of(settings: Settings, dossier: DossierInfo) -> dict[str, Any] | None:
    """Who signed the archived PDF and when, as the manifest records it."""
    if dossier.status is not DossierStatus.ARCHIVED:
        return None
    try:
        signature = read_manifest(object_store(settings), dossier.dossier_id).get("signature")
    except (StorageError, ValueError):
        return None
    return dict(signature) if isinstance(signature, dict) else None


def ops_data(settings: Settings, *, request_runner: BatchRunner) -> dict[str, Any]:
    meta = metadata_store(settings)
    now = datetime.now(UTC)
    hour_dossiers, hour_pages = meta.archived_since(now - timedelta(hours=1))
    day_dossiers, day_pages = meta.archived_since(now - timedelta(days=1))
    failures = meta.search(SearchQuery(status=DossierStatus.FAILED, limit=50)).items
    retried = meta.retries([d.dossier_id for d in failures])
    stuck = meta.stuck_dossiers(now - timedelta(minutes=30))
    review = meta.search(
        SearchQuery(needs_review=True, status=DossierStatus.ARCHIVED, limit=200)
    ).items
    batches = meta.list_batches(limit=20)
    return {
        "counts": meta.status_counts(),
        "throughput": {
            "last_hour": {"dossiers": hour_dossiers, "pages": hour_pages},
            "last_day": {"dossiers": day_dossiers, "pages": day_pages},
        },
        "batches_running": request_runner.busy(),
        "failures": [
            {
                "dossier_id": d.dossier_id,
                "source": d.source_name,
                "error": d.error,
                "at": d.updated_at.isoformat(),
                # A retry that failed again says so, and who asked for it (issue 29).
                "retries": retried.get(d.dossier_id, (0, None))[0],
                "retried_by": retried.get(d.dossier_id, (0, None))[1],
            }
            for d in failures
        ],
        "stuck": [
            {"dossier_id": d.dossier_id, "status": str(d.status), "since": d.updated_at.isoformat()}
            for d in stuck
        ],
        "review_waiting": len(review),
        "recent_batches": [
            {
                "batch_id": b.batch_id,
                "created_at": b.created_at.isoformat(),
                "uploaded_by": b.uploaded_by,
                "uploaded_by_account": b.uploaded_by_account,
                "files": b.source_count,
                "flow_run_id": b.flow_run_id,
                "flow_run_url": flow_run_url(settings, b.flow_run_id),
            }
            for b in batches
        ],
    }


def flow_run_url(settings: Settings, flow_run_id: str | None) -> str | None:
    if not flow_run_id:
        return None
    base = settings.prefect_ui_url.rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}" if base else None


def push_ops(settings: Settings) -> dict[str, Any]:
    """The outbox for the operators' page: counts and the dead letters to resend."""
    meta = metadata_store(settings)
    return {
        "push_counts": meta.outbox_counts(),
        "dead_letters": [
            {
                "outbox_id": item.outbox_id,
                "dossier_id": item.dossier_id,
                "agency": item.agency_code,
                "attempts": item.attempts,
                "at": item.next_attempt_at.isoformat(),
            }
            for item in meta.outbox(state="dead", limit=50)
        ],
    }
