"""``sohoa process``: a batch of files taken in, read and archived on this machine, and its
report. ``app.cli`` parses the command line and calls ``cmd_process``.

Imports stay inside the handlers, as in ``app.cli``: the OCR engines load while the rest
of sohoa is imported.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli_admin import open_stores, print_json, write_whole
from app.collector import collector_on
from config import Settings
from models import BatchInfo, DossierInfo, DossierStatus
from models.errors import ExitCode, SohoaError
from storage import keys

if TYPE_CHECKING:
    from app.i18n import Messages
    from storage.objects import ObjectStore

log = logging.getLogger("sohoa")


def add_commands(commands: Any) -> None:
    """``sohoa process FILE...``."""
    process = commands.add_parser("process", help="process files as one batch, one dossier each")
    process.add_argument("files", nargs="+", metavar="FILE")
    process.add_argument("--lang", help="Tesseract language(s), default SOHOA_LANG or 'vie'")
    process.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    process.add_argument("--agency", help="receiving agency code (default: from the dossier code)")
    process.add_argument("--procedure", help="procedure id, when the papers do not say")
    process.add_argument("--counter", help="counter / one-stop desk id")
    process.add_argument("--post-office", help="post office id")
    process.add_argument("--uploaded-by", help="who hands the files in (default: $USER)")
    process.add_argument(
        "--batch-id", help="re-run this batch: what is already stored is not stored again"
    )
    process.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="also write each archived dossier's searchable PDF here, as DOSSIER_ID.pdf",
    )
    process.set_defaults(handler=cmd_process)


def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    from app.prefect_env import (
        configure_prefect,
        start_temporary_server,
    )
    from config import orchestrator_for

    settings = settings.model_copy(
        update={"orchestrator": orchestrator_for(settings, long_lived=False)}
    )
    if settings.orchestrator == "inline":  # no Prefect at all (see orchestrator_for)
        return _process(args, settings, None)
    configure_prefect(settings, verbose=args.verbose)
    server = start_temporary_server(settings)  # starts while we import and check
    try:
        return _process(args, settings, server)
    finally:
        if server is not None:
            server.stop()


@dataclass
class BatchReport:
    """What ``sohoa process`` says of a batch: a report per dossier, the files or dossiers
    that failed, and a note per file already received before."""

    batch_id: str
    dossiers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "dossiers": self.dossiers, "errors": self.errors}


def _process(args: argparse.Namespace, settings: Settings, server: Any) -> int:
    from app.prefect_env import await_temporary_server
    from pipeline.tesseract import check_languages, preload

    lang = args.lang or settings.lang
    check_languages(lang)  # fail fast, before anything is queued
    # The OCR engines load (the model is read outside the GIL) while the rest of sohoa is
    # imported, the originals are stored and Prefect's server (if any) starts.
    warm_up = threading.Thread(target=preload, args=(lang, settings.workers), daemon=True)
    warm_up.start()
    # Everything the run and its report use, imported before collector_on freezes what
    # imports made (app/startup.py).
    from app.progress import ProgressBar
    from app.views import messages_for
    from flows.orchestrator import run_batch
    from flows.steps import SourceRef, receive_batch

    meta, objects = open_stores(settings)
    output_dir = _output_dir(args.output_dir)
    collector_on()  # imports done; a batch may run for an hour
    # Re-running a batch (after a crash or an interruption) reuses its id: every dossier
    # key is derived from it, so nothing already stored is stored or recorded twice.
    batch_id = keys.check_id(args.batch_id) if args.batch_id else keys.new_batch_id()
    sources = [SourceRef(path=str(Path(f).absolute()), name=f) for f in args.files]
    batch = batch_from_args(args, batch_id, lang, len(sources))
    log.info("batch %s: %d file(s)", batch_id, len(sources))
    # Every original goes into the store before any processing (while Prefect's server
    # starts): from here on a crash loses nothing, and `sohoa resume` can finish the batch
    # from the store alone. The flow starts from what this recorded.
    receive_batch(settings, batch, sources)
    await_temporary_server(server)
    engine_error: str | None = None
    with ProgressBar(lambda: meta.batch_progress(batch_id)):
        try:
            run_batch(settings, batch_id, sources, lang)
        except SohoaError:
            raise
        except Exception as exc:  # the orchestrator itself failed; dossiers stay resumable
            engine_error = f"processing engine failed: {type(exc).__name__}: {exc}"
    dossiers = meta.batch_dossiers(batch_id)
    names = [source.name for source in sources]
    words = messages_for(settings)
    report = batch_report(settings, words, batch_id, names, dossiers, engine_error)
    if output_dir is not None:
        write_pdfs(objects, report, output_dir)
    _write_report(report, as_json=args.json)
    return process_exit_code(report, dossiers, engine_error, source_count=len(sources))


def _output_dir(given: str | None) -> Path | None:
    """The directory for ``--output-dir``, checked before anything is processed."""
    if given is None:
        return None
    path = Path(given)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SohoaError(f"--output-dir {given}: cannot create it ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise SohoaError(f"--output-dir {given}: not writable")
    return path


def write_pdfs(objects: ObjectStore, report: BatchReport, output_dir: Path) -> None:
    """Each archived dossier's PDF, as the archive's manifest vouches for it, written to
    ``output_dir`` (whole or not at all); its path goes into the
    dossier's report."""
    from storage.archive import verified_bytes

    for item in report.dossiers:
        if item.get("status") != str(DossierStatus.ARCHIVED):
            continue
        dossier_id = str(item["dossier_id"])
        target = output_dir / f"{dossier_id}.pdf"
        try:
            write_whole(target, verified_bytes(objects, dossier_id, keys.pdf_key(dossier_id)))
        except OSError as exc:
            report.errors.append(
                {
                    "source": str(item.get("source") or dossier_id),
                    "error": f"could not write {target}: {exc.strerror}",
                }
            )
            continue
        item["pdf_path"] = str(target)
        log.info("wrote %s", target)


def batch_from_args(
    args: argparse.Namespace, batch_id: str, lang: str, source_count: int
) -> BatchInfo:
    """The batch the command line describes (who, where, for which agency)."""
    return BatchInfo(
        batch_id=batch_id,
        created_at=datetime.now(UTC),
        lang=lang,
        source_count=source_count,
        uploaded_by=args.uploaded_by or os.environ.get("USER"),
        counter_id=args.counter,
        post_office_id=args.post_office,
        agency_code=args.agency,
        procedure=args.procedure,
    )


def batch_report(
    settings: Settings,
    words: Messages,
    batch_id: str,
    source_names: Sequence[str],
    dossiers: Sequence[DossierInfo],
    engine_error: str | None,
) -> BatchReport:
    """Each file's dossiers (a stack may have been split) in the order of the files; a file
    with none, a dossier that did not end archived, is an error."""
    from app.views import process_report

    report = BatchReport(batch_id)
    for position, source_name in enumerate(source_names):
        file_dossier_id = keys.dossier_id(batch_id, position)
        found = [d for d in dossiers if keys.is_from_file(d.dossier_id, file_dossier_id)]
        if not found:
            report.errors.append({"source": source_name, "error": engine_error or "not processed"})
            continue
        for dossier in found:
            report.dossiers.append(process_report(settings, dossier, words))
            if dossier.status is DossierStatus.DUPLICATE:
                report.notes.append(
                    f"{dossier.source_name} was already received as dossier "
                    f"{dossier.duplicate_of}; not stored again"
                )
                continue
            if dossier.status is not DossierStatus.ARCHIVED:
                error = dossier.error or engine_error or f"ended {dossier.status}"
                report.errors.append({"source": dossier.source_name, "error": error})
    return report


def _write_report(report: BatchReport, *, as_json: bool) -> None:
    from app.counter_words import verdict_text_lines

    for note in report.notes:
        sys.stderr.write(f"sohoa: note: {note}\n")
    for error in report.errors:
        sys.stderr.write(f"sohoa: error: {error['error']}\n")
    if as_json:
        print_json(report.to_json())
        return
    for item in report.dossiers:
        code = item["dossier_code"] or "-"
        review = "  [review]" if item["needs_review"] else ""
        if item["duplicate_of"]:
            review = f"  [same file as {item['duplicate_of']}]"
        sys.stdout.write(
            f"{item['status']:<10} {item['dossier_id']}  {item['pages']:>3} page(s)  "
            f"{code}  {item['source']}{review}\n"
        )
        for line in verdict_text_lines(item["verdict"]):
            sys.stdout.write(f"           {line}\n")


def process_exit_code(
    report: BatchReport,
    dossiers: Sequence[DossierInfo],
    engine_error: str | None,
    *,
    source_count: int,
) -> ExitCode:
    """UNEXPECTED when the engine broke before any file got through; BAD_INPUT when every
    failed dossier had no readable page; DOSSIER_FAILED for any other failure."""
    if engine_error and len(report.errors) == source_count:
        return ExitCode.UNEXPECTED
    if not report.errors:
        return ExitCode.OK
    failed = [
        d for d in dossiers if d.status not in (DossierStatus.ARCHIVED, DossierStatus.DUPLICATE)
    ]
    bad_input_only = all(d.page_count == 0 for d in failed) and not engine_error
    return ExitCode.BAD_INPUT if bad_input_only else ExitCode.DOSSIER_FAILED
