"""Rescan in place (issue 26): the clerk replaces a bad page and adds the missing paper of a
dossier already taken in; the first original stays byte for byte, the new file is a later
submission, the archive is rebuilt, its manifest lists both, and `sohoa verify` holds."""

from __future__ import annotations

import hashlib
import io
import json
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image

from app.verify import VerifyOptions, verify_dossier
from app.views import dossier_verdict, messages_for
from config import Settings
from flows import runtime
from flows.batch import batch_sources
from flows.orchestrator import run_batch
from flows.rescan import RescanRefused, plan_pages, rescan_dossier
from flows.runtime import metadata_store, object_store
from flows.steps import SourceRef, receive_batch
from models import BatchInfo, DossierStatus
from storage import keys
from tests import dossiers
from tests.service_support import open_world


def test_plan_puts_each_rescanned_page_in_its_place_and_adds_the_rest() -> None:
    assert plan_pages(3, 1, [2]) == [("old", 0), ("new", 0), ("old", 2)]
    assert plan_pages(2, 2, [2]) == [("old", 0), ("new", 0), ("new", 1)]
    assert plan_pages(2, 1, []) == [("old", 0), ("old", 1), ("new", 0)]
    assert plan_pages(0, 2, []) == [("new", 0), ("new", 1)]  # the first file was refused
    with pytest.raises(RescanRefused, match="no page 4"):
        plan_pages(3, 1, [4])
    with pytest.raises(RescanRefused, match="new file has 1 page"):
        plan_pages(3, 1, [1, 2])
    with pytest.raises(RescanRefused, match="named twice"):
        plan_pages(3, 2, [2, 2])


def _save_pdf(images: list[Image.Image], path: Path) -> Path:
    first, *rest = [image.convert(image.mode if image.mode == "1" else "RGB") for image in images]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=200)
    return path


@pytest.mark.slow
def test_rescanned_page_replaces_the_bad_one_and_the_missing_paper_is_added(
    tmp_path: Path,
) -> None:
    runtime.reset()
    settings = Settings(data_dir=tmp_path / "data", workers=2, orchestrator="inline")
    rng = random.Random(26)
    pages, _truth = dossiers.make_dossier(
        rng, procedure="lltp", with_id_copy=True, with_other=False
    )
    (receipt, _), (form, _), (id_copy, _) = pages
    # At the counter: the form went through the scanner in black and white, the ID copy
    # stayed in the citizen's hand.
    first = _save_pdf([receipt, form.convert("L").convert("1")], tmp_path / "hoso.pdf")
    first_bytes = first.read_bytes()
    batch = BatchInfo(
        batch_id=keys.new_batch_id(),
        created_at=datetime.now(UTC),
        lang=settings.lang,
        source_count=1,
        procedure="lltp",
    )
    receive_batch(settings, batch, [SourceRef(str(first), "hoso.pdf")])
    run_batch(settings, batch.batch_id, batch_sources(settings, batch.batch_id), settings.lang)
    meta, objects = metadata_store(settings), object_store(settings)
    dossier_id = keys.dossier_id(batch.batch_id, 0)
    words = messages_for(settings)
    before = dossier_verdict(settings, meta.get_dossier(dossier_id), words)
    assert before["verdict"] == "incomplete"
    codes = {p["code"] for p in before["problems"]}
    assert {"colour", "missing_paper"} <= codes, before

    # The clerk rescans the form in colour and scans the ID copy: page 2 replaced, one added.
    rescan = _save_pdf([form, id_copy], tmp_path / "quet-lai.pdf")
    result = rescan_dossier(settings, dossier_id, rescan, "quet-lai.pdf", replace=[2], by="An")
    assert (result.number, result.pages) == (2, 3)
    with pytest.raises(RescanRefused, match="once it is read"):
        rescan_dossier(settings, dossier_id, rescan, "quet-lai.pdf", replace=[2])
    run_batch(settings, batch.batch_id, batch_sources(settings, batch.batch_id), settings.lang)

    after = meta.get_dossier(dossier_id)
    assert after.status is DossierStatus.ARCHIVED and after.page_count == 3
    verdict = dossier_verdict(settings, after, words)
    assert not {"colour", "missing_paper"} & {p["code"] for p in verdict["problems"]}, verdict
    assert [p["kind"] for p in verdict["papers"]] == ["receipt", "application_form", "id_copy"]

    # The first original, byte for byte, where it was; the rescan beside it.
    submissions = meta.submissions(dossier_id)
    assert [s.number for s in submissions] == [1, 2]
    assert objects.get_bytes(submissions[0].object_key) == first_bytes
    assert objects.get_bytes(submissions[1].object_key) == rescan.read_bytes()
    assert submissions[1].replaces == (2,) and submissions[1].submitted_by == "An"
    manifest = json.loads(objects.get_bytes(keys.manifest_key(dossier_id)))
    listed = [(s["number"], s["sha256"], s["replaces"]) for s in manifest["submissions"]]
    assert listed == [(1, submissions[0].sha256, []), (2, submissions[1].sha256, [2])]
    roles = {(o["role"], o["key"]) for o in manifest["objects"]}
    assert ("submission", submissions[0].object_key) in roles
    assert ("original", submissions[1].source_key) in roles
    # The archive copy is rebuilt: three pages, the colour form in place of the 1-bit one.
    with pikepdf.open(io.BytesIO(objects.get_bytes(keys.pdf_key(dossier_id)))) as pdf:
        assert len(pdf.pages) == 3
    scratch = tmp_path / "verify"
    scratch.mkdir()
    checked = verify_dossier(after, meta, objects, VerifyOptions(scratch=scratch))
    assert checked is not None and checked.ok, checked.problems
    events = [message for _at, _status, message in meta.events(dossier_id)]
    assert any(m and m.startswith("rescan 2: 2 page(s), replacing page(s) 2") for m in events)


@pytest.mark.slow
def test_the_counter_rescans_its_own_dossier_through_the_service(
    tmp_path: Path, samples_dir: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=2)
    with open_world(settings) as world:
        response = world.upload("counter", [samples_dir / "two-pages.tiff"], procedure="lltp")
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]
        dossier_id = response.json()["dossiers"][0]["dossier_id"]
        world.runner.wait(batch_id, timeout=300)
        page = samples_dir / "page.jpg"

        def rescan(who: str, replace: str = "1", path: Path = page) -> Any:
            return world.client.post(
                f"/api/dossiers/{dossier_id}/rescan",
                headers=world.auth(who),
                files=[("file", (path.name, path.read_bytes(), "image/jpeg"))],
                data={"replace": replace},
            )

        # Another counter's dossier is as missing as one that is not there; agencies never.
        assert rescan("counter2").status_code == 404
        assert rescan("agency_a").status_code == 403
        assert rescan("counter", replace="1;DROP").status_code == 422
        assert rescan("counter", replace="7").status_code == 409  # the dossier has 2 pages
        cut = tmp_path / "cut.jpg"
        cut.write_bytes(page.read_bytes()[:-3000])
        refused = rescan("counter", path=cut)
        assert refused.status_code == 422 and "truncated file" in refused.text
        accepted = rescan("counter")
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["submission"] == 2 and accepted.json()["pages"] == 2
        world.runner.wait(batch_id, timeout=300)
        meta = metadata_store(settings)
        after = meta.get_dossier(dossier_id)
        assert after.status is DossierStatus.ARCHIVED and after.page_count == 2
        first, second = meta.submissions(dossier_id)
        assert (
            first.sha256
            == hashlib.sha256((samples_dir / "two-pages.tiff").read_bytes()).hexdigest()
        )
        assert second.sha256 == hashlib.sha256(page.read_bytes()).hexdigest()
        batch = world.client.get(f"/api/batches/{batch_id}", headers=world.auth("counter"))
        assert batch.json()["dossiers"][0]["verdict"]["verdict"] != "processing"
        # The hand-over receipt lists both files the citizen handed in, by their SHA-256.
        receipt = world.client.get(
            f"/api/dossiers/{dossier_id}/receipt.pdf", headers=world.auth("counter")
        )
        assert receipt.status_code == 200
        (tmp_path / "receipt.pdf").write_bytes(receipt.content)
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(tmp_path / "receipt.pdf"), "-"],
            capture_output=True, text=True, check=True,
        ).stdout.replace("\n", "").replace(" ", "")  # fmt: skip
        assert first.sha256 in text and second.sha256 in text
