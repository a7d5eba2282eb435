"""The work each Prefect task does, run as plain functions against real stores."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import Settings
from flows import archiving, steps
from flows.runtime import metadata_store, object_store
from models import BatchInfo, DossierStatus
from pipeline.extract import find_dossier_codes
from storage import keys
from storage.archive import read_manifest
from tests import synth


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL."""
    return db_settings


def _row_counts(settings: Settings) -> dict[str, int]:
    from sqlalchemy import text

    engine = metadata_store(settings).engine
    with engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("batches", "dossiers", "pages", "fields", "dossier_texts")
        }


@pytest.fixture(autouse=True)
def batch(settings: Settings) -> None:
    metadata_store(settings).create_batch(BatchInfo("b1", datetime.now(UTC), "vie", 3))


def test_receive_process_archive(settings: Settings, samples_dir: Path, truth: list[str]) -> None:
    source = steps.SourceRef(path=str(samples_dir / "two-pages.tiff"), name="two-pages.tiff")
    received = steps.receive_source(settings, "b1", "b1-001", 0, source)
    assert received.error is None and received.page_count == 2
    objects = object_store(settings)
    assert objects.get_bytes(received.original_key) == (samples_dir / "two-pages.tiff").read_bytes()

    pages = [steps.process_one_page(settings, received, i, "vie") for i in range(2)]
    # Assembly must work from the object store alone (another machine): drop the work dir.
    shutil.rmtree(steps.dossier_work_dir(settings, "b1-001"))
    parts = steps.split_stack(settings, received, pages)
    assert parts == [steps.DossierPart("b1-001", (0, 1))]  # no receipt, no separator
    archiving.archive_dossier(settings, received, parts[0], pages)
    steps.finish_source(settings, received)

    info = metadata_store(settings).get_dossier("b1-001")
    assert info.status is DossierStatus.ARCHIVED
    assert info.dossier_code == find_dossier_codes("\f".join(truth[:2]))[0][0]
    assert [p.rotation for p in info.pages] == [0, 180]
    text = objects.get_bytes(keys.text_key("b1-001")).decode()
    for reference, page_text in zip(truth[:2], text.split("\f"), strict=True):
        assert synth.char_error_rate(reference, page_text) < 0.02
    assert objects.get_bytes(keys.pdf_key("b1-001")).startswith(b"%PDF-")
    assert json.loads(objects.get_bytes(keys.fields_key("b1-001")))
    assert objects.exists(keys.page_image_key("b1-001", 1))
    assert not steps.dossier_work_dir(settings, "b1-001").exists()  # cleaned up

    # The manifest, written last, vouches for every object of the dossier.
    manifest = read_manifest(objects, "b1-001")
    roles = [o["role"] for o in manifest["objects"]]
    assert roles[:4] == ["pdf", "text", "fields", "original"]
    assert roles.count("page-image") == roles.count("page-ocr") == 2
    for entry in manifest["objects"]:
        assert objects.stat(entry["key"]).sha256 == entry["sha256"]

    # Re-running the batch (a crashed flow restarted) stores and records nothing twice.
    stored_before, rows_before = objects.list("dossiers/"), _row_counts(settings)
    again = steps.receive_source(settings, "b1", "b1-001", 0, source)
    assert again.archived and again.sha256 == received.sha256
    archiving.archive_dossier(settings, received, parts[0], pages)
    assert objects.list("dossiers/") == stored_before
    assert _row_counts(settings) == rows_before
    assert read_manifest(objects, "b1-001") == manifest

    # The same file handed in again under a new dossier: recognised, not stored twice.
    duplicate = steps.receive_source(settings, "b1", "b1-004", 3, source)
    assert duplicate.duplicate_of == "b1-001" and duplicate.page_count == 0
    assert metadata_store(settings).get_dossier("b1-004").status is DossierStatus.DUPLICATE
    assert objects.list("dossiers/b1-004/") == []
    # The flow receives it again after the CLI or the service did: nothing new happens.
    events_before = metadata_store(settings).events("b1-004")
    again = steps.receive_source(settings, "b1", "b1-004", 3, source)
    assert again.duplicate_of == "b1-001"
    assert metadata_store(settings).events("b1-004") == events_before


def test_get_refuses_objects_the_manifest_does_not_vouch_for(
    settings: Settings,
    samples_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOHOA_DATABASE_URL", settings.resolved_database_url)
    from app.cli import main

    source = steps.SourceRef(path=str(samples_dir / "page.jpg"), name="page.jpg")
    received = steps.receive_source(settings, "b1", "b1-009", 8, source)
    pages = [steps.process_one_page(settings, received, 0, "vie")]
    (part,) = steps.split_stack(settings, received, pages)
    archiving.archive_dossier(settings, received, part, pages)
    data_dir = ["--data-dir", str(settings.data_dir)]
    assert main([*data_dir, "get", "b1-009", "--text"]) == 0
    tampered = settings.objects_dir / keys.text_key("b1-009")
    tampered.write_text("altered after archiving", encoding="utf-8")
    assert main([*data_dir, "get", "b1-009", "--text"]) == 6
    assert "does not match the dossier's manifest" in capsys.readouterr().err
    (settings.objects_dir / keys.manifest_key("b1-009")).unlink()
    assert main([*data_dir, "get", "b1-009", "--pdf", "-o", "-"]) == 6
    assert "no manifest" in capsys.readouterr().err


def test_bad_file_fails_but_original_is_kept(settings: Settings, samples_dir: Path) -> None:
    bad = samples_dir / "not-a-pdf.pdf"
    received = steps.receive_source(
        settings, "b1", "b1-002", 1, steps.SourceRef(str(bad), "not-a-pdf.pdf")
    )
    assert received.error and "not-a-pdf.pdf" in received.error
    info = metadata_store(settings).get_dossier("b1-002")
    assert info.status is DossierStatus.FAILED and info.error == received.error
    assert object_store(settings).get_bytes(received.original_key) == bad.read_bytes()


def test_receiving_twice_never_replaces_the_original(
    settings: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "scan.jpg"
    shutil.copy(samples_dir / "page.jpg", path)
    first = steps.receive_source(
        settings, "b1", "b1-003", 2, steps.SourceRef(str(path), "scan.jpg")
    )
    path.write_bytes(b"changed on disk after upload")
    again = steps.receive_source(
        settings, "b1", "b1-003", 2, steps.SourceRef(str(path), "scan.jpg")
    )
    assert again.sha256 == first.sha256
    assert (
        object_store(settings).get_bytes(first.original_key)
        == (samples_dir / "page.jpg").read_bytes()
    )


def test_low_resolution_warns_or_refuses(settings: Settings, tmp_path: Path) -> None:
    from PIL import Image

    from models.errors import BadInputError
    from pipeline.context import PageContext
    from pipeline.load import inspect_source
    from pipeline.page import process_page

    page = synth.render_page(synth.corpus_lines(6, 1), dpi=150, font_pt=14)
    path = tmp_path / "low.png"
    page.image.save(path, dpi=(150, 150))
    source = inspect_source(path)
    warned = process_page(source, PageContext(source_name="low.png", page_index=0), tmp_path / "w")
    assert any("150 dpi" in w for w in warned.record.warning_texts)
    strict = PageContext(source_name="low.png", page_index=0, refuse_low_dpi=True)
    with pytest.raises(BadInputError, match=r"low\.png: page 1 scanned at 150 dpi"):
        process_page(source, strict, tmp_path / "w2")
    assert Image.open(path).size == page.image.size


def _count_intake(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count every inspection of a received file and every pass of SHA-256 over bytes
    (``models.digest.sha256_chunks``, the one hashing function; the intake, ``flows.steps``,
    is the one the CLI, the service and the flow all go through)."""
    import models.digest

    calls = {"inspect": 0, "hash": 0}
    inspect, hash_chunks = steps.inspect_source, models.digest.sha256_chunks

    def counted_inspect(*args: object, **kwargs: object) -> object:
        calls["inspect"] += 1
        return inspect(*args, **kwargs)  # type: ignore[arg-type]

    def counted_hash(*args: object, **kwargs: object) -> tuple[int, str]:
        calls["hash"] += 1
        return hash_chunks(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(steps, "inspect_source", counted_inspect)
    monkeypatch.setattr(models.digest, "sha256_chunks", counted_hash)
    return calls


def test_a_file_is_inspected_and_hashed_once_per_upload(
    settings: Settings, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI receives every file before the flow starts, and the flow's receive task runs
    again (and again on a re-run): only the first reads the file; the others start from
    what it recorded."""
    calls = _count_intake(monkeypatch)
    source = steps.SourceRef(path=str(samples_dir / "two-pages.tiff"), name="two-pages.tiff")
    first = steps.receive_source(settings, "b1", "b1-001", 0, source)  # the CLI's intake
    # One read: hashed as it is copied in; inspected and stored with that digest.
    assert calls == {"inspect": 1, "hash": 1}
    again = steps.receive_source(settings, "b1", "b1-001", 0, source)  # the flow's task
    steps.receive_source(settings, "b1", "b1-001", 0, source)  # a re-run
    assert calls == {"inspect": 1, "hash": 1}
    assert again == first and again.page_count == 2 and again.error is None
    # A file inspection refuses is still kept (the original is never lost): hashed once.
    bad = steps.SourceRef(path=str(samples_dir / "not-a-pdf.pdf"), name="not-a-pdf.pdf")
    refused = steps.receive_source(settings, "b1", "b1-002", 1, bad)
    assert refused.error and calls == {"inspect": 2, "hash": 2}
    assert object_store(settings).exists(refused.original_key)


def test_an_uploaded_file_is_inspected_and_hashed_once(
    settings: Settings, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service checks a whole upload before storing any of it, then the flow's receive
    task runs (and runs again on a re-run): each file is read once, by the upload's check,
    its SHA-256 taken in that same read; a refused upload stores nothing."""
    from tests.service_support import open_world

    calls = _count_intake(monkeypatch)

    def receive_only(
        settings: Settings, batch_id: str, sources: list[steps.SourceRef], _lang: str
    ) -> None:
        # The flow's first task for every file; the OCR after it never reads the file again.
        for position, source in enumerate(sources):
            dossier_id = keys.dossier_id(batch_id, position)
            steps.receive_source(settings, batch_id, dossier_id, position, source)

    page, tiff = samples_dir / "page.jpg", samples_dir / "two-pages.tiff"
    with open_world(settings, run=receive_only) as world:
        response = world.upload("counter", [tiff, page, page])
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]
        world.runner.wait(batch_id, timeout=60)
        # One pass each, by the inspection; the store keeps that digest, the flow reads it.
        assert calls == {"inspect": 3, "hash": 3}
        world.runner.submit(batch_id)  # an operator's retry re-runs the receive task
        world.runner.wait(batch_id, timeout=60)
        assert calls == {"inspect": 3, "hash": 3}
        meta = metadata_store(settings)
        dossiers = meta.batch_dossiers(batch_id)
        assert [d.page_count for d in dossiers] == [2, 1, 0]
        assert dossiers[2].duplicate_of == dossiers[1].dossier_id  # same bytes: stored once
        assert dossiers[1].original_sha256 == hashlib.sha256(page.read_bytes()).hexdigest()
        calls["hash"] = 0
        # Every file of a refused upload is inspected (all bad ones named), none stored.
        refused = world.upload("counter", [samples_dir / "not-a-pdf.pdf", page])
        assert refused.status_code == 415 and "not-a-pdf.pdf" in refused.json()["detail"]
        assert calls == {"inspect": 5, "hash": 1}  # not-a-pdf.pdf refused before hashing
        assert len(meta.list_dossiers()) == 3
