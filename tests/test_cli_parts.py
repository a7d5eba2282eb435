"""The pieces of the ``sohoa`` command line: its parser, ``sohoa process``'s report and exit
code, and the dossier ids a batch's files become."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import cli, cli_admin, cli_process, export, verify
from app.cli_process import BatchReport, batch_report, process_exit_code
from app.views import messages_for
from config import Settings
from models import DossierInfo, DossierStatus, PageInfo
from models.errors import ExitCode
from storage import keys

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    """The command names as ``sohoa --help`` lists them, in its order."""
    listing = parser.format_help().split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in listing.splitlines() if re.match(r"^ {4}\S", line)]


def test_the_parser_knows_every_command_in_its_order() -> None:
    commands = _commands(cli.build_parser())
    assert commands[:7] == ["process", "get", "list", "show", "search", "signer", "resume"]
    for name in ("serve", "token", "db", "verify", "separator", "export", "rescan"):
        assert name in commands
    assert commands.index("serve") < commands.index("token") < commands.index("db")
    assert commands[-3:] == ["db", "verify", "separator"]


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["process", "a.pdf", "b.tif", "--batch-id", "b1"], cli_process.cmd_process),
        (["get", "b1-001", "--pdf"], cli.cmd_get),
        (["list", "--status", "archived"], cli.cmd_list),
        (["search", "--name", "Hằng", "giấy"], cli.cmd_search),
        (["signer", "demo", "--name", "Hằng", "-o", "pki"], cli_admin.cmd_signer_demo),
        (["resume"], cli.cmd_resume),
        (["serve", "--port", "9000"], cli.cmd_serve),
        (["db", "upgrade"], cli_admin.cmd_db),
        (["verify", "--all"], verify.cmd_verify),
        (["separator", "-o", "sheet.pdf"], cli_admin.cmd_separator),
        (["export", "b1-001", "-o", "out"], export.cmd_export),
    ],
)
def test_each_command_reaches_its_handler(argv: list[str], handler: object) -> None:
    args = cli.build_parser().parse_args(argv)
    assert args.handler is handler


def test_process_arguments_describe_the_batch() -> None:
    argv = ["process", "a.pdf", "--batch-id", "b1", "--counter", "Q1", "--uploaded-by", "hang"]
    args = cli.build_parser().parse_args(argv)
    batch = cli_process.batch_from_args(args, "b1", "vie", 1)
    assert (batch.batch_id, batch.counter_id, batch.uploaded_by, batch.source_count) == (
        "b1",
        "Q1",
        "hang",
        1,
    )
    assert batch.agency_code is None and batch.post_office_id is None


def test_a_files_dossiers_are_its_own_and_those_split_from_it() -> None:
    first = keys.dossier_id("b1", 0)
    assert first == "b1-001"
    assert keys.split_dossier_id(first, 1) == "b1-001"
    assert keys.split_dossier_id(first, 3) == "b1-001-03"
    assert keys.is_from_file("b1-001-03", first) and keys.is_from_file("b1-001", first)
    assert not keys.is_from_file("b1-0010", first)
    assert not keys.is_from_file("b1-002", first)


def _dossier(
    dossier_id: str,
    status: DossierStatus,
    *,
    error: str | None = None,
    duplicate_of: str | None = None,
) -> DossierInfo:
    page = PageInfo(index=0, width_px=1000, height_px=1400, dpi=200.0)
    return DossierInfo(
        dossier_id,
        "b1",
        f"{dossier_id}.pdf",
        status,
        1,
        T0,
        T0,
        error=error,
        duplicate_of=duplicate_of,
        pages=(page,),
    )


def test_the_report_follows_the_files_and_names_what_failed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    dossiers = [
        _dossier("b1-001", DossierStatus.ARCHIVED),
        _dossier("b1-001-02", DossierStatus.FAILED, error="page 2 unreadable"),
        _dossier("b1-003", DossierStatus.DUPLICATE, duplicate_of="a0-001"),
    ]
    files = ["stack.pdf", "lost.pdf", "again.pdf"]
    report = batch_report(settings, messages_for(settings), "b1", files, dossiers, None)
    assert [d["dossier_id"] for d in report.dossiers] == ["b1-001", "b1-001-02", "b1-003"]
    assert report.errors == [
        {"source": "b1-001-02.pdf", "error": "page 2 unreadable"},
        {"source": "lost.pdf", "error": "not processed"},
    ]
    assert report.notes == ["b1-003.pdf was already received as dossier a0-001; not stored again"]
    assert set(report.to_json()) == {"batch_id", "dossiers", "errors"}


def test_the_exit_code_says_what_went_wrong() -> None:
    archived = _dossier("b1-001", DossierStatus.ARCHIVED)
    unreadable = DossierInfo("b1-002", "b1", "x.pdf", DossierStatus.FAILED, 0, T0, T0)
    broken = _dossier("b1-002", DossierStatus.FAILED)
    ok = BatchReport("b1")
    assert process_exit_code(ok, [archived], None, source_count=1) == ExitCode.OK
    failed = BatchReport("b1", errors=[{"source": "x.pdf", "error": "no pages"}])
    assert process_exit_code(failed, [archived, unreadable], None, source_count=2) == (
        ExitCode.BAD_INPUT
    )
    assert process_exit_code(failed, [archived, broken], None, source_count=2) == (
        ExitCode.DOSSIER_FAILED
    )
    assert process_exit_code(failed, [], "engine broke", source_count=1) == ExitCode.UNEXPECTED
    assert process_exit_code(failed, [archived, unreadable], "engine broke", source_count=2) == (
        ExitCode.DOSSIER_FAILED
    )
