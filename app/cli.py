"""The ``sohoa`` command line. Errors become one line on stderr and an exit code, here only."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.cli_admin import (
    add_token_commands,
    cmd_db,
    cmd_separator,
    cmd_signer_demo,
    open_stores,
    print_json,
    write_whole,
)
from app.collector import collector_on
from config import Settings, load_settings
from models import DossierInfo, DossierStatus
from models.errors import ExitCode, SohoaError
from storage import keys

log = logging.getLogger("sohoa")


# --- get / list / show --------------------------------------------------------------------


def cmd_get(args: argparse.Namespace, settings: Settings) -> int:
    meta, objects = open_stores(settings)
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
        write_whole(target, data)
        log.info("wrote %s (%d bytes)", target, len(data))
    return ExitCode.OK


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    meta, _ = open_stores(settings)
    status = DossierStatus(args.status) if args.status else None
    dossiers = meta.list_dossiers(status=status, limit=args.limit, offset=args.offset)
    if args.json:
        print_json({"dossiers": [d.summary() for d in dossiers]})
        return ExitCode.OK
    for d in dossiers:
        sys.stdout.write(
            f"{d.dossier_id}  {d.status:<10} {d.page_count:>3} page(s)  "
            f"{d.dossier_code or '-'}  {d.source_name}\n"
        )
    return ExitCode.OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    meta, _ = open_stores(settings)
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
        print_json(data)
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
    meta, _ = open_stores(settings)
    result = meta.search(query)
    if args.json:
        print_json(
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
    meta, _ = open_stores(settings)
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

        open_stores(settings)  # open (and migrate) the database before taking requests
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
    """Every ``sohoa`` command, in the order ``sohoa --help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="sohoa", description="Digitise scanned dossiers into searchable, archived PDFs."
    )
    parser.add_argument("--data-dir", help="where objects and the database live (SOHOA_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from app.cli_accounts import add_commands as add_account_commands
    from app.cli_handoff import add_commands as add_handoff_commands
    from app.cli_process import add_commands as add_process_commands
    from app.cli_rescan import add_commands as add_rescan_commands
    from app.export import add_commands as add_export_commands
    from app.scaleout import add_commands as add_scaleout_commands

    add_process_commands(commands)
    add_dossier_commands(commands)
    add_signer_commands(commands)
    resume = commands.add_parser(
        "resume", help="finish batches left unfinished by a crash or a stop"
    )
    resume.set_defaults(handler=cmd_resume)
    add_scaleout_commands(commands)  # flows/deployed.py
    add_rescan_commands(commands)  # flows/rescan.py
    add_export_commands(commands)
    add_handoff_commands(commands)  # handoff, push, agency set-push, catalogue load
    serve = commands.add_parser(
        "serve", help="run the HTTP service (API, pages, metrics) and the processing"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)
    add_token_commands(commands)  # app/cli_admin.py
    add_account_commands(commands)  # people's accounts, receipts
    add_upkeep_commands(commands)
    return parser


def add_dossier_commands(commands: Any) -> None:
    """``sohoa get|list|show|search``: dossiers and their artefacts, read back."""
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


def add_signer_commands(commands: Any) -> None:
    """``sohoa signer demo``."""
    signer = commands.add_parser("signer", help="signing certificates")
    signer_commands = signer.add_subparsers(dest="signer_command", required=True, metavar="ACTION")
    demo = signer_commands.add_parser(
        "demo", help="make a throwaway CA and digitiser PKCS#12 (demos only; not legal)"
    )
    demo.add_argument("--name", required=True, help="the digitiser's name on the stamp")
    demo.add_argument("-o", "--output", required=True, help="folder to write them to")
    demo.add_argument("--password", default="demo", help="PKCS#12 password (default 'demo')")
    demo.set_defaults(handler=cmd_signer_demo)


def add_upkeep_commands(commands: Any) -> None:
    """``sohoa db|verify|separator``: the schema, archived dossiers checked, separator
    sheets."""
    from app.verify import cmd_verify

    db = commands.add_parser("db", help="database schema: upgrade or show its revision")
    db.add_argument("db_command", choices=["upgrade", "current"])
    db.set_defaults(handler=cmd_db)

    verify = commands.add_parser(
        "verify", help="check archived dossiers: manifest, object hashes, original, signature"
    )
    verify.add_argument("dossier_ids", nargs="*", metavar="DOSSIER_ID")
    verify.add_argument("--all", action="store_true", help="every dossier, newest first")
    verify.add_argument("--json", action="store_true", help="one JSON object per line")
    verify.set_defaults(handler=cmd_verify)

    separator = commands.add_parser(
        "separator", help="print a separator sheet to put between dossiers in a stack"
    )
    separator.add_argument("-o", "--output", required=True, help="PDF file to write")
    separator.set_defaults(handler=cmd_separator)


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
