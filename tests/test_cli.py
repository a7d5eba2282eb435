"""The CLI contract, end to end in a real subprocess: the batch (inline), stores, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import synth

pytestmark = pytest.mark.slow


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def sohoa(data_dir: Path, *args: str) -> Run:
    env = {
        **os.environ,
        "SOHOA_DATA_DIR": str(data_dir),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Own Prefect database per test data dir: parallel test workers never share one.
        "PREFECT_HOME": str(data_dir.parent / "prefect-home"),
    }
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def batch(
    tmp_path_factory: pytest.TempPathFactory, samples_dir: Path
) -> tuple[Path, Run, list[str]]:
    """One real `sohoa process` over a 12-page degraded scan, a TIFF and three bad files."""
    root = tmp_path_factory.mktemp("cli")
    pages = synth.mixed_degraded_pages(12)
    synth.save_pdf(pages, root / "twelve.pdf")
    files = [
        str(root / "twelve.pdf"),
        str(samples_dir / "not-a-pdf.pdf"),
        str(samples_dir / "two-pages.tiff"),
        str(samples_dir / "zero.pdf"),
        str(samples_dir / "truncated.pdf"),
    ]
    run = sohoa(root / "data", "process", "--json", "-o", str(root / "out"), *files)
    return root / "data", run, [p.text for p in pages]


def test_process_reports_every_file_in_order_and_exits_non_zero(
    batch: tuple[Path, Run, list[str]],
) -> None:
    _, run, _ = batch
    assert run.code == 3, run.stderr
    report = json.loads(run.stdout)  # stdout is exactly one JSON object
    assert set(report) == {"batch_id", "dossiers", "errors"}
    sources = [Path(d["source"]).name for d in report["dossiers"]]
    assert sources == ["twelve.pdf", "not-a-pdf.pdf", "two-pages.tiff", "zero.pdf", "truncated.pdf"]
    statuses = [d["status"] for d in report["dossiers"]]
    assert statuses == ["archived", "failed", "archived", "failed", "failed"]
    assert report["dossiers"][0]["pages"] == 12
    for dossier in report["dossiers"]:
        assert set(dossier) >= {"dossier_id", "source", "status", "pages", "dossier_code", "fields"}
    errors = {Path(e["source"]).name: e["error"] for e in report["errors"]}
    assert set(errors) == {"not-a-pdf.pdf", "zero.pdf", "truncated.pdf"}
    assert "not a PDF" in errors["not-a-pdf.pdf"] and "empty file" in errors["zero.pdf"]
    assert all("\n" not in e for e in errors.values())
    # one readable line per bad file on stderr, naming it
    for name in errors:
        assert any(name in line and "error" in line for line in run.stderr.splitlines())


def test_process_writes_each_archived_dossier_s_pdf_as_the_archive_holds_it(
    batch: tuple[Path, Run, list[str]], tmp_path: Path
) -> None:
    data, run, _ = batch
    report = json.loads(run.stdout)
    archived = [d for d in report["dossiers"] if d["status"] == "archived"]
    written = sorted(p.name for p in (data.parent / "out").iterdir())
    assert written == sorted(f"{d['dossier_id']}.pdf" for d in archived)  # no .part left
    for dossier in report["dossiers"]:
        assert ("pdf_path" in dossier) == (dossier["status"] == "archived")
    dossier = archived[0]
    fetched = tmp_path / "fetched.pdf"
    assert sohoa(data, "get", dossier["dossier_id"], "--pdf", "-o", str(fetched)).code == 0
    assert Path(dossier["pdf_path"]).read_bytes() == fetched.read_bytes()


def test_process_refuses_an_output_dir_it_cannot_write_before_reading_anything(
    tmp_path: Path, samples_dir: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    run = sohoa(
        tmp_path / "data",
        "process",
        "-o",
        str(blocker / "out"),
        str(samples_dir / "two-pages.tiff"),
    )
    assert run.code != 0
    [line] = [line for line in run.stderr.splitlines() if "error" in line]
    assert "--output-dir" in line and str(blocker / "out") in line
    # Nothing was taken in: no stored file holds the TIFF's bytes.
    tiff = (samples_dir / "two-pages.tiff").read_bytes()
    stored = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert not any(p.read_bytes() == tiff for p in stored)


def test_twelve_page_degraded_scan_reads_back_from_the_pdf(
    batch: tuple[Path, Run, list[str]], tmp_path: Path
) -> None:
    data, run, truth = batch
    dossier = json.loads(run.stdout)["dossiers"][0]
    output = tmp_path / "twelve.pdf"
    got = sohoa(data, "get", dossier["dossier_id"], "--pdf", "-o", str(output))
    assert got.code == 0, got.stderr
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(output), "-"], capture_output=True, check=True
    ).stdout.decode()
    page_texts = text.split("\f")[:12]
    rates = [synth.char_error_rate(ref, hyp) for ref, hyp in zip(truth, page_texts, strict=True)]
    print("per-page CER:", [round(r, 4) for r in rates], "mean:", sum(rates) / len(rates))
    assert max(rates) < 0.03
    assert sum(rates) / len(rates) < 0.01


def test_get_list_show(
    batch: tuple[Path, Run, list[str]], tmp_path: Path, samples_dir: Path
) -> None:
    data, run, _ = batch
    report = json.loads(run.stdout)
    tiff = report["dossiers"][2]
    original = tmp_path / "orig"
    assert sohoa(data, "get", tiff["dossier_id"], "--original", "-o", str(original)).code == 0
    assert original.read_bytes() == (samples_dir / "two-pages.tiff").read_bytes()
    text = sohoa(data, "get", tiff["dossier_id"], "--text")
    assert text.code == 0 and "\f" in text.stdout
    fields = sohoa(data, "get", tiff["dossier_id"], "--fields")
    assert fields.code == 0 and isinstance(json.loads(fields.stdout), dict)

    listed = json.loads(sohoa(data, "list", "--json").stdout)["dossiers"]
    assert {d["dossier_id"] for d in listed} == {d["dossier_id"] for d in report["dossiers"]}
    assert all({"dossier_id", "status", "pages", "dossier_code"} <= set(d) for d in listed)

    shown = sohoa(data, "show", tiff["dossier_id"], "--json")
    detail = json.loads(shown.stdout)
    assert detail["status"] == "archived" and len(detail["page_details"]) == 2
    assert [e["status"] for e in detail["events"]][-1] == "archived"
    human = sohoa(data, "show", tiff["dossier_id"])
    assert "archived" in human.stdout and "page   2" in human.stdout


def test_get_refuses_what_is_not_there(batch: tuple[Path, Run, list[str]]) -> None:
    data, run, _ = batch
    failed = json.loads(run.stdout)["dossiers"][1]
    refused = sohoa(data, "get", failed["dossier_id"], "--pdf", "-o", "/dev/null")
    assert refused.code != 0 and "not archived" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    # the bad upload itself is still kept
    kept = sohoa(data, "get", failed["dossier_id"], "--original")
    assert kept.code == 0 and "plain text" in kept.stdout
    missing = sohoa(data, "show", "20990101-000000-ffffff-001")
    assert missing.code == 5 and "no dossier" in missing.stderr


def test_token_revoke_names_the_token_it_did_not_find(tmp_path: Path) -> None:
    run = sohoa(tmp_path / "data", "token", "revoke", "tok-nope")
    assert run.code == 5, run.stderr  # ExitCode.NOT_FOUND
    line = run.stderr.strip().splitlines()[-1]
    assert "no access token with id 'tok-nope'" in line and "dossier" not in line
