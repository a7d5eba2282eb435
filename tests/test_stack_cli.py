"""Issue-4 goals end to end: stacks split into the right dossiers, fields read right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import dossiers
from tests.test_cli import Run, sohoa

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run, list, list]:
    root = tmp_path_factory.mktemp("stacks")
    ten_pages, ten_truths, _ = dossiers.make_stack(10, seed=2024)
    dossiers.save_stack_pdf(ten_pages, root / "ten.pdf")
    sep_pages, sep_truths, _ = dossiers.make_stack(3, seed=7, separators=True)
    dossiers.save_stack_pdf(sep_pages, root / "separated.pdf")
    run = sohoa(
        root / "data", "process", "--json", str(root / "ten.pdf"), str(root / "separated.pdf")
    )
    return root / "data", run, [ten_truths, sep_truths], [ten_pages, sep_pages]


def test_stack_of_ten_splits_into_ten_with_the_right_codes(stacks: tuple) -> None:
    _, run, truths, _ = stacks
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    ten = [d for d in report["dossiers"] if Path(d["source"]).name == "ten.pdf"]
    assert len(ten) == 10
    assert [d["dossier_code"] for d in ten] == [t.dossier_code for t in truths[0]]
    assert all(d["status"] == "archived" for d in ten)


def test_separator_sheets_split_and_are_dropped(stacks: tuple) -> None:
    _, run, truths, pages = stacks
    report = json.loads(run.stdout)
    separated = [d for d in report["dossiers"] if Path(d["source"]).name == "separated.pdf"]
    assert [d["dossier_code"] for d in separated] == [t.dossier_code for t in truths[1]]
    separators = sum(1 for p in pages[1] if p.meta.get("kind") == "separator")
    assert separators >= 2
    assert sum(d["pages"] for d in separated) == len(pages[1]) - separators


def test_fields_are_read_right(stacks: tuple) -> None:
    data, run, truths, _ = stacks
    report = json.loads(run.stdout)
    expected = [t.expected_fields() for group in truths for t in group]
    right = total = 0
    wrong: list[str] = []
    for dossier, fields in zip(report["dossiers"], expected, strict=True):
        for name, value in fields.items():
            total += 1
            if dossier["fields"].get(name) == value:
                right += 1
            else:
                wrong.append(
                    f"{dossier['dossier_id']} {name}: {dossier['fields'].get(name)!r} != {value!r}"
                )
    print(f"fields exactly right: {right}/{total}", *wrong, sep="\n  ")
    assert right / total >= 0.99, wrong
    # The per-field record says where each value came from.
    shown = json.loads(sohoa(data, "show", report["dossiers"][0]["dossier_id"], "--json").stdout)
    assert shown["field_details"]["dossier_code"]["source"] == "qr"
    assert {p["kind"] for p in shown["page_details"]} >= {"receipt", "application_form"}


def test_a_split_dossier_gets_only_its_own_pages_as_its_original(
    stacks: tuple, tmp_path: Path
) -> None:
    import pikepdf

    data, run, _, pages = stacks
    report = json.loads(run.stdout)
    ten = [d for d in report["dossiers"] if Path(d["source"]).name == "ten.pdf"]
    for dossier in (ten[0], ten[1]):
        out = tmp_path / f"{dossier['dossier_id']}.pdf"
        got = sohoa(data, "get", dossier["dossier_id"], "--original", "-o", str(out))
        assert got.code == 0, got.stderr
        with pikepdf.open(out) as pdf:
            assert len(pdf.pages) == dossier["pages"] < len(pages[0])


def test_separator_command_prints_a_sheet_sohoa_recognises(tmp_path: Path) -> None:
    from pipeline.context import PageContext
    from pipeline.load import inspect_source
    from pipeline.page import process_page

    sheet = tmp_path / "sep.pdf"
    made = sohoa(tmp_path / "data", "separator", "-o", str(sheet))
    assert made.code == 0, made.stderr
    source = inspect_source(sheet)
    outcome = process_page(source, PageContext(source_name="sep.pdf", page_index=0), tmp_path / "w")
    assert outcome.record.kind == "separator"
