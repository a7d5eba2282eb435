"""The export package's history (PREMIS agents and events), built from a dossier's records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.export import clerk_agent, lifecycle_events, package_history
from models import BatchInfo, DossierInfo, DossierStatus
from models.dossier import FieldCorrection
from models.package import PackageAgent, PackageFile, SignatureRecord

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
PROGRAM = ("sohoa", "executing program")


def _file(name: str, role: str) -> PackageFile:
    return PackageFile(name, Path(name), role, "application/pdf", "0" * 64, 1, T0, name)


FILES = (
    _file("submission-1.pdf", "original"),
    _file("submission-2.pdf", "submission"),
    _file("dossier.pdf", "pdf"),
)
CLERK = PackageAgent("clerk:hang", "hang", "person", "counter Q1")


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_rescanned_dossier_tells_its_whole_life() -> None:
    log: list[tuple[datetime, str, str | None]] = [
        (_at(0), DossierStatus.RECEIVED, None),
        (_at(1), DossierStatus.PROCESSING, "3 page(s)"),
        (_at(2), DossierStatus.ARCHIVED, None),
        (_at(3), DossierStatus.ARCHIVED, "field full_name corrected"),
        (_at(4), DossierStatus.RECEIVED, "rescan 2: 1 page(s), replacing page(s) 2"),
        (_at(5), DossierStatus.FAILED, "page 2 unreadable"),
        (_at(6), DossierStatus.RECEIVED, None),
    ]
    events = lifecycle_events(log, FILES, CLERK)
    assert [(e.kind, e.outcome) for e in events] == [
        ("ingestion start", "success"),
        ("digitization", "success"),
        ("ingestion end", "success"),
        ("capture", "success"),  # the correction is not told from the log
        ("digitization", "fail"),
        ("ingestion start", "success"),
    ]
    received, digitised, archived, rescan, failed, again = events
    assert received.detail == "received at the counter"
    assert received.agents == (("clerk:hang", "implementer"), PROGRAM)
    assert received.files == ("submission-1.pdf",)
    assert digitised.detail.endswith("; 3 page(s)")
    assert digitised.files == ("submission-1.pdf", "submission-2.pdf")
    assert archived.files == ("dossier.pdf",)
    assert rescan.files == ("submission-2.pdf",) and rescan.agents == (
        ("clerk:hang", "implementer"),
    )
    assert failed.detail == "page 2 unreadable"
    assert (again.detail, again.agents, again.files) == ("received again", (PROGRAM,), ())


def test_archived_without_a_processing_mark_is_digitised_all_the_same() -> None:
    log: list[tuple[datetime, str, str | None]] = [
        (_at(0), DossierStatus.RECEIVED, None),
        (_at(1), DossierStatus.ARCHIVED, "signed"),
    ]
    events = lifecycle_events(log, FILES[:1] + FILES[2:], None)
    assert [e.kind for e in events] == ["ingestion start", "digitization", "ingestion end"]
    assert events[0].agents == (PROGRAM,)  # nobody named as having handed it in
    assert events[2].detail.endswith("; signed")


def test_the_clerk_is_the_account_else_the_name_with_where() -> None:
    batch = BatchInfo("b1", T0, "vie", 1, uploaded_by="token-q1", counter_id="Q1")
    assert clerk_agent(batch) == PackageAgent("clerk:token-q1", "token-q1", "person", "counter Q1")
    person = BatchInfo(
        "b1", T0, "vie", 1, uploaded_by="x", post_office_id="PO7", uploaded_by_account="hang"
    )
    assert clerk_agent(person) == PackageAgent("clerk:hang", "hang", "person", "post office PO7")
    nobody = BatchInfo("b1", T0, "vie", 1)
    assert clerk_agent(nobody) is None
    unplaced = BatchInfo("b1", T0, "vie", 1, uploaded_by="hang")
    assert clerk_agent(unplaced) == PackageAgent("clerk:hang", "hang", "person", "counter clerk")


class StoredHistory:
    """What the metadata store tells of one dossier's history (SQLite's naive times)."""

    def events(self, dossier_id: str) -> list[tuple[datetime, str, str | None]]:
        naive = T0.replace(tzinfo=None)
        return [
            (naive + timedelta(minutes=2), DossierStatus.ARCHIVED, None),
            (naive, DossierStatus.RECEIVED, None),
        ]

    def corrections(self, dossier_id: str) -> list[FieldCorrection]:
        return [FieldCorrection(dossier_id, "full_name", "Hang", "Hằng", "lan", _at(9))]


def test_package_history_names_every_agent_and_orders_the_events_in_time() -> None:
    dossier = DossierInfo("b1-001", "b1", "scan.pdf", DossierStatus.ARCHIVED, 3, T0, T0)
    batch = BatchInfo("b1", T0, "vie", 1, uploaded_by="hang", counter_id="Q1")
    signature = SignatureRecord("Nguyễn Thị Thu Hằng", _at(5), "CN=Hằng", "42", "ab" * 32)
    agents, events = package_history(StoredHistory(), dossier, batch, signature, FILES)
    assert list(agents) == ["sohoa", "clerk:hang", "person:lan", "digitiser"]
    assert agents["digitiser"].name == "Nguyễn Thị Thu Hằng"
    assert "serial 42" in agents["digitiser"].note
    assert [e.kind for e in events] == [
        "ingestion start",
        "digitization",
        "ingestion end",
        "digital signature generation",
        "metadata modification",
    ]
    assert all(e.at.tzinfo is not None for e in events)
    assert events[3].files == ("dossier.pdf",)
    assert events[3].agents == (("digitiser", "implementer"), PROGRAM)
    assert events[4].detail == "field full_name corrected"  # the values stay out
