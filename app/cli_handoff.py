"""Issue 27's commands: ``sohoa handoff ID``, ``sohoa push``, ``sohoa agency set-push`` /
``list-push`` / ``outbox``, ``sohoa catalogue load FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from config import Settings
from models.errors import ExitCode

if TYPE_CHECKING:  # flows.push brings httpx (40 ms): every command line builds this parser
    from flows.push import Pusher

DEFAULT_BASE = "http://127.0.0.1:8000"


def add_commands(commands: Any) -> None:
    handoff = commands.add_parser(
        "handoff", help="print an archived dossier in the national portal's shape (JSON)"
    )
    handoff.add_argument("dossier_id")
    handoff.add_argument(
        "--base-url", help=f"the service's address for the file links (default "
        f"SOHOA_PUBLIC_BASE_URL, else {DEFAULT_BASE})",
    )  # fmt: skip
    handoff.set_defaults(handler=cmd_handoff)

    push = commands.add_parser("push", help="send the pushes that are due to agencies, once")
    push.add_argument("--base-url", help="the service's address for the file links")
    push.add_argument("--concurrency", type=int, default=4, help="pushes in flight at once")
    push.set_defaults(handler=cmd_push)

    agency = commands.add_parser("agency", help="agencies' push endpoints and the outbox")
    actions = agency.add_subparsers(dest="agency_command", required=True, metavar="ACTION")
    set_push = actions.add_parser(
        "set-push", help="where to push the agency's archived dossiers (the key from stdin)"
    )
    set_push.add_argument("agency_code")
    set_push.add_argument("--url", required=True, help="the agency's https endpoint")
    set_push.add_argument("--disable", action="store_true", help="keep it but push nothing")
    set_push.add_argument(
        "--backfill", action="store_true",
        help="also owe a push of every dossier of the agency already archived",
    )  # fmt: skip
    set_push.set_defaults(handler=cmd_set_push)
    actions.add_parser("list-push", help="agencies with an endpoint").set_defaults(
        handler=cmd_list_push
    )
    outbox = actions.add_parser("outbox", help="pushes owed, delivered and dead")
    outbox.add_argument("--state", choices=["pending", "sending", "delivered", "dead"])
    outbox.add_argument("--resend", type=int, metavar="ID", help="a dead letter, due again now")
    outbox.set_defaults(handler=cmd_outbox)

    catalogue = commands.add_parser("catalogue", help="the procedure catalogue's codes")
    cat_actions = catalogue.add_subparsers(
        dest="catalogue_command", required=True, metavar="ACTION"
    )
    load = cat_actions.add_parser(
        "load", help="update national codes (MaTTHC, MaLinhVuc, MaThanhPhanHoSo) from a list"
    )
    load.add_argument("file", help="JSON or CSV (procedure,paper,code)")
    load.set_defaults(handler=cmd_catalogue_load)


def _base(args: argparse.Namespace, settings: Settings) -> str:
    return str(args.base_url or settings.public_base_url or DEFAULT_BASE)


def cmd_handoff(args: argparse.Namespace, settings: Settings) -> int:
    from flows.handoff import HandoffError, handoff_document

    try:
        document = handoff_document(settings, args.dossier_id, _base(args, settings))
    except HandoffError as exc:
        sys.stderr.write(f"sohoa: error: {exc.message}\n")
        return ExitCode.NOT_FOUND if exc.status == 404 else ExitCode.DOSSIER_FAILED
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    for missing in document["ThieuMa"]:
        sys.stderr.write(f"missing {missing['TruongDuLieu']}: {missing['LyDo']}\n")
    return ExitCode.OK


def cmd_push(args: argparse.Namespace, settings: Settings) -> int:
    from flows.push import push_until_idle

    report = push_until_idle(settings, _base(args, settings), concurrency=args.concurrency)
    sys.stdout.write(
        f"{report.delivered} delivered, {report.retrying} to retry, {report.dead} dead\n"
    )
    return ExitCode.OK


def cmd_set_push(args: argparse.Namespace, settings: Settings) -> int:
    from flows.runtime import metadata_store

    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.netloc:
        sys.stderr.write("sohoa: error: --url must be an http(s) address\n")
        return ExitCode.USAGE
    secret = sys.stdin.readline().strip()
    if len(secret) < 16:
        sys.stderr.write("sohoa: error: give the shared key (16+ characters) on stdin\n")
        return ExitCode.USAGE
    meta = metadata_store(settings)
    meta.set_agency_push(args.agency_code, args.url, secret, enabled=not args.disable)
    owed = 0
    if args.backfill and not args.disable:
        from models import DossierStatus, SearchQuery

        offset = 0
        while True:
            page = meta.search(
                SearchQuery(agency_code=args.agency_code, status=DossierStatus.ARCHIVED,
                            limit=200, offset=offset)
            )  # fmt: skip
            for dossier in page.items:
                meta.enqueue_archived(dossier.dossier_id)
                owed += 1
            if len(page.items) < 200:
                break
            offset += 200
    state = "disabled" if args.disable else "enabled"
    sys.stdout.write(f"{args.agency_code}: push to {args.url} ({state}); {owed} owed now\n")
    return ExitCode.OK


def cmd_list_push(_args: argparse.Namespace, settings: Settings) -> int:
    from flows.runtime import metadata_store

    for push in metadata_store(settings).agency_pushes():
        state = "enabled" if push.enabled else "disabled"
        sys.stdout.write(f"{push.agency_code:<20} {state:<9} {push.url}\n")
    return ExitCode.OK


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from flows.runtime import metadata_store

    meta = metadata_store(settings)
    if args.resend is not None:
        if not meta.resend(args.resend, actor="cli"):
            sys.stderr.write(f"sohoa: error: {args.resend} is not a dead letter\n")
            return ExitCode.NOT_FOUND
        sys.stdout.write(f"{args.resend}: due again now\n")
        return ExitCode.OK
    for item in meta.outbox(state=args.state):
        sys.stdout.write(
            f"{item.outbox_id:>6} {item.state:<9} {item.attempts:>2} {item.agency_code:<16} "
            f"{item.dossier_id}  {item.last_error or ''}\n"
        )
    return ExitCode.OK


def cmd_catalogue_load(args: argparse.Namespace, settings: Settings) -> int:
    from config.catalogue import load_catalogue
    from config.catalogue_codes import CatalogueLoadError, load_codes

    try:
        updates = load_codes(settings.catalogue_path, Path(args.file))
    except (CatalogueLoadError, OSError) as exc:
        sys.stderr.write(f"sohoa: error: {exc}; the catalogue is unchanged\n")
        return ExitCode.USAGE
    load_catalogue.cache_clear()
    sys.stdout.write(f"{len(updates)} code(s) loaded into {settings.catalogue_path}\n")
    return ExitCode.OK


def start_pusher(settings: Settings, fallback_base: str) -> Pusher:
    from flows.push import Pusher

    pusher = Pusher(settings, settings.public_base_url or fallback_base)
    pusher.start()
    return pusher
