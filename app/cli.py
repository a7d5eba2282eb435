"""The ``sohoa`` command line. Errors become one line on stderr and an exit code, here only."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cli_admin import _stores, add_token_commands, cmd_db, cmd_separator, cmd_signer_demo
from app.collector import collector_on
from config import Settings, load_settings
from models import BatchInfo, DossierInfo, DossierStatus
from models.errors import ExitCode, SohoaError
from storage import keys

log = logging.getLogger("sohoa")


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# --- process ------------------------------------------------------------------------------


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


def _process(args: argparse.Namespace, settings: Settings, server: Any) -> int:
    from app.counter_words import verdict_text_lines
    from app.prefect_env import await_temporary_server
    from app.progress import ProgressBar
    from app.views import messages_for, process_report
    from pipeline.tesseract import check_languages, preload

    lang = args.lang or settings.lang
    check_languages(lang)  # fail fast, before anything is queued
    # The OCR engines load (the model is read outside the GIL) while the rest of sohoa is
    # imported, the originals are stored and Prefect's server (if any) starts.
    warm_up = threading.Thread(target=preload, args=(lang, settings.workers), daemon=True)
    warm_up.start()
    from flows.orchestrator import run_batch
    from flows.steps import SourceRef

    meta, _objects = _stores(settings)
    collector_on()  # imports done; a batch may run for an hour
    # Re-running a batch (after a crash or an interruption) reuses its id: every dossier
    # key is derived from it, so nothing already stored is stored or recorded twice.
    batch_id = keys.check_id(args.batch_id) if args.batch_id else keys.new_batch_id()
    sources = [SourceRef(path=str(Path(f).absolute()), name=f) for f in args.files]
    batch = BatchInfo(
        batch_id=batch_id,
        created_at=datetime.now(UTC),
        lang=lang,
        source_count=len(sources),
        uploaded_by=args.uploaded_by or os.environ.get("USER"),
        counter_id=args.counter,
        post_office_id=args.post_office,
        agency_code=args.agency,
        procedure=args.procedure,
    )
    log.info("batch %s: %d file(s)", batch_id, len(sources))
    # Every original goes into the store before any processing (while Prefect's server
    # starts): from here on a crash loses nothing, and `sohoa resume` can finish the batch
    # from the store alone. The flow starts from what this recorded.
    from flows.steps import receive_batch

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
    words = messages_for(settings)
    report: dict[str, Any] = {"batch_id": batch_id, "dossiers": [], "errors": []}
    for position, source in enumerate(sources):
        base = f"{batch_id}-{position + 1:03d}"
        # A stack may have been split: its dossiers share the file's id as a prefix.
        found = [d for d in dossiers if d.dossier_id == base or d.dossier_id.startswith(base + "-")]
        if not found:
            report["errors"].append(
                {"source": source.name, "error": engine_error or "not processed"}
            )
            continue
        for dossier in found:
            report["dossiers"].append(process_report(settings, dossier, words))
            if dossier.status is DossierStatus.DUPLICATE:
                sys.stderr.write(
                    f"sohoa: note: {dossier.source_name} was already received as dossier "
                    f"{dossier.duplicate_of}; not stored again\n"
                )
                continue
            if dossier.status is not DossierStatus.ARCHIVED:
                error = dossier.error or engine_error or f"ended {dossier.status}"
                report["errors"].append({"source": dossier.source_name, "error": error})
    for error in report["errors"]:
        sys.stderr.write(f"sohoa: error: {error['error']}\n")
    if args.json:
        _print_json(report)
    else:
        for item in report["dossiers"]:
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
    if engine_error and len(report["errors"]) == len(sources):
        return ExitCode.UNEXPECTED
    if not report["errors"]:
        return ExitCode.OK
    failed = [
        d for d in dossiers if d.status not in (DossierStatus.ARCHIVED, DossierStatus.DUPLICATE)
    ]
    bad_input_only = all(d.page_count == 0 for d in failed) and not engine_error
    return ExitCode.BAD_INPUT if bad_input_only else ExitCode.DOSSIER_FAILED


# --- get / list / show --------------------------------------------------------------------


def cmd_get(args: argparse.Namespace, settings: Settings) -> int:
    meta, objects = _stores(settings)
    dossier: DossierInfo = meta.get_dossier(args.dossier_id)
    artefact = args.artefact
    if artefact == "original":
        # A dossier split from a stack: its own pages of it, as the service hands them out
        # (the stack stays whole at the first dossier's original key); else the file as
        # received.
        from storage.archive import own_original_key

        archived = dossier.status is DossierStatus.ARCHIVED
        own = own_original_key(objects, dossier.dossier_id) if archived else None
        key = own or meta.original_key(dossier.dossier_id)
        if not key:
            raise SohoaError(f"dossier {dossier.dossier_id} has no stored original")
    else:
        if dossier.status is DossierStatus.DUPLICATE:
            raise SohoaError(
                f"dossier {dossier.dossier_id} is a second copy of dossier "
                f"{dossier.duplicate_of}: get that one"
            )
        if dossier.status is not DossierStatus.ARCHIVED:
            raise SohoaError(
                f"dossier {dossier.dossier_id} is not archived (status {dossier.status}"
                + (f": {dossier.error}" if dossier.error else "")
                + ")"
            )
        key = {
            "pdf": keys.pdf_key,
            "text": keys.text_key,
            "fields": keys.fields_key,
        }[artefact](dossier.dossier_id)
    if dossier.status is DossierStatus.ARCHIVED:
        # Serve nothing the manifest does not vouch for (half-archived or altered).
        from storage.archive import verified_bytes

        data = verified_bytes(objects, dossier.dossier_id, key)
    else:
        data = objects.get_bytes(key)
    if args.output in (None, "-"):
        if artefact in ("pdf", "original") and sys.stdout.isatty() and args.output is None:
            raise SohoaError(f"{artefact} is binary: give -o FILE (or -o - to force stdout)")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        target = Path(args.output)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        log.info("wrote %s (%d bytes)", target, len(data))
    return ExitCode.OK


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    meta, _ = _stores(settings)
    status = DossierStatus(args.status) if args.status else None
    dossiers = meta.list_dossiers(status=status, limit=args.limit, offset=args.offset)
    if args.json:
        _print_json({"dossiers": [d.summary() for d in dossiers]})
        return ExitCode.OK
    for d in dossiers:
        sys.stdout.write(
            f"{d.dossier_id}  {d.status:<10} {d.page_count:>3} page(s)  "
            f"{d.dossier_code or '-'}  {d.source_name}\n"
        )
    return ExitCode.OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    meta, _ = _stores(settings)
    dossier = meta.get_dossier(args.dossier_id)
    events = meta.events(dossier.dossier_id)
    data = dossier.summary()
    data["original"] = {
        "sha256": dossier.original_sha256,
        "size": dossier.original_size,
        "media_type": dossier.media_type,
    }
    data["page_details"] = [
        {
            "index": p.index,
            "width_px": p.width_px,
            "height_px": p.height_px,
            "dpi": p.dpi,
            "rotation": p.rotation,
            "skew_deg": p.skew_deg,
            "blank": p.blank,
            "ocr_confidence": None if p.ocr_confidence is None else round(p.ocr_confidence, 1),
            "text_source": p.text_source,
            "warnings": list(p.warnings),
            "kind": p.kind,
            "source_index": p.source_index,
        }
        for p in dossier.pages
    ]
    data["field_details"] = {f.name: f.to_json() for f in dossier.field_details}
    data["events"] = [{"at": at.isoformat(), "status": s, "message": m} for at, s, m in events]
    if args.json:
        _print_json(data)
        return ExitCode.OK
    out = sys.stdout
    out.write(f"dossier   {dossier.dossier_id}\nsource    {dossier.source_name}\n")
    out.write(f"status    {dossier.status}\npages     {dossier.page_count}\n")
    out.write(f"code      {dossier.dossier_code or '-'}\n")
    if dossier.error:
        out.write(f"error     {dossier.error}\n")
    for item in dossier.field_details:
        flag = "  ! review" if item.needs_review else ""
        note = f"  ({item.note})" if item.note else ""
        out.write(
            f"field     {item.name} = {item.value}  [{item.source} {item.confidence:.2f}]"
            f"{flag}{note}\n"
        )
    for reason in dossier.review_reasons:
        out.write(f"review    {reason}\n")
    for page in data["page_details"]:
        flags = f"  {page['kind']}" + (
            " (blank)" if page["blank"] and page["kind"] != "blank" else ""
        )
        warn = f"  ! {'; '.join(page['warnings'])}" if page["warnings"] else ""
        out.write(
            f"page {page['index'] + 1:>3}  {page['width_px']}x{page['height_px']}"
            f" @ {page['dpi']:.0f} dpi"
            f"  rot {page['rotation']}  skew {page['skew_deg']:+.1f}  conf {page['ocr_confidence']}"
            f"{flags}{warn}\n"
        )
    return ExitCode.OK


# --- search -------------------------------------------------------------------------------


def search_query_from_args(args: argparse.Namespace) -> Any:
    from app.search_query import search_query

    return search_query(
        code=args.code,
        id_number=args.id_number,
        name=args.name,
        procedure=args.procedure,
        agency=args.agency,
        received_from=args.date_from,
        received_to=args.date_to,
        text=" ".join(args.words) if args.words else None,
        status=DossierStatus(args.status) if args.status else None,
        needs_review=True if args.review else None,
        limit=args.limit,
        offset=(args.page - 1) * args.limit,
    )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    if args.page < 1:
        raise ValueError("--page starts at 1")
    query = search_query_from_args(args)
    meta, _ = _stores(settings)
    result = meta.search(query)
    if args.json:
        _print_json(
            {
                "page": args.page,
                "limit": result.limit,
                "has_more": result.has_more,
                "dossiers": [d.summary() for d in result.items],
            }
        )
        return ExitCode.OK
    for d in result.items:
        sys.stdout.write(
            f"{d.dossier_id}  {d.status:<10} {d.created_at:%Y-%m-%d}  "
            f"{d.dossier_code or '-'}  {d.id_number or '-'}  {d.full_name or '-'}  "
            f"{d.procedure or '-'}  {d.agency_code or '-'}\n"
        )
    if not result.items:
        sys.stderr.write("sohoa: no dossier matches\n")
    elif result.has_more:
        sys.stderr.write(f"sohoa: more results: --page {args.page + 1}\n")
    return ExitCode.OK


# --- resume -------------------------------------------------------------------------------


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    """Finish every batch a crash or a stop left with dossiers received or processing."""
    from app.prefect_env import await_temporary_server, configure_prefect, start_temporary_server
    from config import orchestrator_for

    settings = settings.model_copy(
        update={"orchestrator": orchestrator_for(settings, long_lived=False)}
    )
    inline = settings.orchestrator == "inline"  # no Prefect at all (see orchestrator_for)
    if not inline:
        configure_prefect(settings, verbose=args.verbose)
    meta, _ = _stores(settings)
    unfinished = meta.unfinished_batches()
    if not unfinished:
        sys.stdout.write("nothing to resume\n")
        return ExitCode.OK
    server = None if inline else start_temporary_server(settings)
    try:
        from app.runner import BatchRunner

        collector_on()  # imports done; the batches may run for long
        await_temporary_server(server)
        runner = BatchRunner(settings)
        for batch_id in unfinished:
            runner.submit(batch_id)
        failed = 0
        for batch_id in unfinished:
            try:
                runner.wait(batch_id)
            except Exception as exc:  # the engine itself; dossiers stay resumable
                sys.stderr.write(f"sohoa: error: batch {batch_id}: {exc}\n")
                failed += 1
            for dossier in meta.batch_dossiers(batch_id):
                sys.stdout.write(
                    f"{dossier.status:<10} {dossier.dossier_id}  {dossier.source_name}\n"
                )
        runner.shutdown(wait=True)
    finally:
        if server is not None:
            server.stop()
    left = meta.unfinished_batches()
    if failed or left:
        return ExitCode.DOSSIER_FAILED
    return ExitCode.OK


# --- serve --------------------------------------------------------------------------------


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app.prefect_env import await_temporary_server, configure_prefect, start_temporary_server
    from config import orchestrator_for

    settings = settings.model_copy(
        update={"orchestrator": orchestrator_for(settings, long_lived=True)}
    )
    server = None
    if settings.orchestrator == "prefect":  # inline: batches on this process's threads
        configure_prefect(settings, verbose=args.verbose)
        server = start_temporary_server(settings)
    runner = None
    pusher = None
    try:
        from app.cli_handoff import start_pusher
        from app.runner import BatchRunner
        from app.serverlimits import serve
        from app.service import create_app

        _stores(settings)  # open (and migrate) the database before taking requests
        await_temporary_server(server)
        runner = BatchRunner(settings)
        app = create_app(settings, runner=runner)
        collector_on()  # imports done; the service runs for days
        pusher = start_pusher(settings, f"http://{args.host}:{args.port}")
        resumed = runner.resume_unfinished()
        if resumed:
            log.warning("resuming %d unfinished batch(es): %s", len(resumed), ", ".join(resumed))
        sys.stderr.write(f"sohoa: serving on http://{args.host}:{args.port}\n")
        # uvicorn re-raises SIGTERM (docker stop, systemd) after its shutdown, which would
        # skip the cleanup below and orphan Prefect's server: turn it into a normal exit.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        serve(app, args.host, args.port, settings)  # with app/serverlimits.py's limits
    finally:
        if pusher is not None:
            pusher.stop(timeout=5)
        if runner is not None:
            runner.shutdown(wait=False)
        if server is not None:
            server.stop()
    return ExitCode.OK


# --- entry --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sohoa", description="Digitise scanned dossiers into searchable, archived PDFs."
    )
    parser.add_argument("--data-dir", help="where objects and the database live (SOHOA_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    process.set_defaults(handler=cmd_process)

    get = commands.add_parser("get", help="fetch an artefact of a dossier")
    get.add_argument("dossier_id")
    what = get.add_mutually_exclusive_group(required=True)
    for name in ("pdf", "original", "text", "fields"):
        what.add_argument(f"--{name}", dest="artefact", action="store_const", const=name)
    get.add_argument("-o", "--output", help="file to write ('-' for stdout)")
    get.set_defaults(handler=cmd_get)

    listing = commands.add_parser("list", help="list stored dossiers, newest first")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--status", choices=[s.value for s in DossierStatus])
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.set_defaults(handler=cmd_list)

    show = commands.add_parser("show", help="show one dossier with its pages and history")
    show.add_argument("dossier_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)

    search = commands.add_parser(
        "search", help="find dossiers by code, id number, name, procedure, agency, date, text"
    )
    search.add_argument("words", nargs="*", metavar="WORD", help="words in the OCR text")
    search.add_argument("--code", help="dossier code, or its beginning")
    search.add_argument("--id", dest="id_number", help="citizen id number (CCCD/CMND)")
    search.add_argument("--name", help="citizen name; diacritics optional")
    search.add_argument("--procedure", help="procedure id")
    search.add_argument("--agency", help="receiving agency code")
    search.add_argument("--from", dest="date_from", help="received on or after YYYY-MM-DD")
    search.add_argument("--to", dest="date_to", help="received on or before YYYY-MM-DD")
    search.add_argument("--status", choices=[s.value for s in DossierStatus])
    search.add_argument("--review", action="store_true", help="only dossiers needing review")
    search.add_argument("--limit", type=int, default=20, help="results per page (max 200)")
    search.add_argument("--page", type=int, default=1)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)

    signer = commands.add_parser("signer", help="signing certificates")
    signer_commands = signer.add_subparsers(dest="signer_command", required=True, metavar="ACTION")
    demo = signer_commands.add_parser(
        "demo", help="make a throwaway CA and digitiser PKCS#12 (demos only; not legal)"
    )
    demo.add_argument("--name", required=True, help="the digitiser's name on the stamp")
    demo.add_argument("-o", "--output", required=True, help="folder to write them to")
    demo.add_argument("--password", default="demo", help="PKCS#12 password (default 'demo')")
    demo.set_defaults(handler=cmd_signer_demo)

    resume = commands.add_parser(
        "resume", help="finish batches left unfinished by a crash or a stop"
    )
    resume.set_defaults(handler=cmd_resume)

    # --- scale-out commands (flows/deployed.py), rescan (flows/rescan.py) ---
    from app.cli_rescan import add_commands as add_rescan_commands
    from app.export import add_commands as add_export_commands
    from app.scaleout import add_commands as add_scaleout_commands

    add_scaleout_commands(commands)
    add_rescan_commands(commands)
    add_export_commands(commands)
    from app.cli_handoff import add_commands as add_handoff_commands

    add_handoff_commands(commands)  # handoff, push, agency set-push, catalogue load
    # --- end scale-out ---

    serve = commands.add_parser(
        "serve", help="run the HTTP service (API, pages, metrics) and the processing"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)

    # --- tokens, people's accounts, receipts (app/cli_admin.py, app/cli_accounts.py) ---
    from app.cli_accounts import add_commands as add_account_commands

    add_token_commands(commands)
    add_account_commands(commands)

    db = commands.add_parser("db", help="database schema: upgrade or show its revision")
    db.add_argument("db_command", choices=["upgrade", "current"])
    db.set_defaults(handler=cmd_db)

    # --- verify (app/verify.py) ---
    from app.verify import cmd_verify

    verify = commands.add_parser(
        "verify", help="check archived dossiers: manifest, object hashes, original, signature"
    )
    verify.add_argument("dossier_ids", nargs="*", metavar="DOSSIER_ID")
    verify.add_argument("--all", action="store_true", help="every dossier, newest first")
    verify.add_argument("--json", action="store_true", help="one JSON object per line")
    verify.set_defaults(handler=cmd_verify)
    # --- end verify ---

    separator = commands.add_parser(
        "separator", help="print a separator sheet to put between dossiers in a stack"
    )
    separator.add_argument("-o", "--output", required=True, help="PDF file to write")
    separator.set_defaults(handler=cmd_separator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format=(
            "%(asctime)s sohoa: %(levelname)s: %(message)s"
            if args.verbose
            else "sohoa: %(levelname)s: %(message)s"
        ),
        stream=sys.stderr,
    )
    # One line per HTTP call to the local Prefect API is noise even in verbose mode.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        overrides: dict[str, object] = {}
        if args.data_dir:
            overrides["data_dir"] = Path(args.data_dir)
        settings = load_settings(**overrides)
        code = int(args.handler(args, settings))
    except SohoaError as exc:
        sys.stderr.write(f"sohoa: error: {exc.message}\n")
        code = int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("sohoa: interrupted; stored originals are kept\n")
        code = int(ExitCode.INTERRUPTED)
    except ValueError as exc:  # invalid settings from the environment, bad ids
        sys.stderr.write(f"sohoa: error: {' '.join(str(exc).split())[:500]}\n")
        code = int(ExitCode.USAGE)
    return code


if __name__ == "__main__":
    sys.exit(main())
