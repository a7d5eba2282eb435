"""`sohoa rescan`: replace or add pages of a dossier already taken in (issue 26)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from config import Settings
from models.errors import ExitCode


def _pages(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not page numbers: {text!r} (e.g. 2 or 2,3)") from None


def add_commands(commands: Any) -> None:
    rescan = commands.add_parser(
        "rescan",
        help="replace or add pages of a dossier (the first original stays as it was)",
    )
    rescan.add_argument("dossier_id")
    rescan.add_argument("file", help="the rescanned page(s): PDF, TIFF, JPEG or PNG")
    rescan.add_argument(
        "--replace",
        type=_pages,
        default=[],
        metavar="N[,M...]",
        help="dossier pages the file's first pages replace (1-based); its other pages are added",
    )
    rescan.add_argument("--by", help="who rescanned (recorded; default $USER)")
    rescan.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    rescan.set_defaults(handler=cmd_rescan)


def cmd_rescan(args: argparse.Namespace, settings: Settings) -> int:
    """Keep the file as the dossier's next submission, read the dossier again, and print
    the counter's verdict on it."""
    from app.counter_words import verdict_text_lines
    from app.views import dossier_verdict, messages_for
    from flows.batch import batch_sources
    from flows.orchestrator import run_batch
    from flows.rescan import rescan_dossier
    from flows.runtime import metadata_store

    # One dossier, read here and now: no Prefect server to start for it.
    settings = settings.model_copy(update={"orchestrator": "inline"})
    path = Path(args.file)
    result = rescan_dossier(
        settings,
        args.dossier_id,
        path,
        path.name,
        replace=args.replace,
        by=args.by or os.environ.get("USER"),
    )
    run_batch(settings, result.batch_id, batch_sources(settings, result.batch_id), settings.lang)
    dossier = metadata_store(settings).get_dossier(result.dossier_id)
    verdict = dossier_verdict(settings, dossier, messages_for(settings))
    report = {
        "dossier_id": dossier.dossier_id,
        "submission": result.number,
        "status": str(dossier.status),
        "pages": dossier.page_count,
        "replaced": list(result.replaces),
        "verdict": verdict,
    }
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(
            f"{report['status']:<10} {dossier.dossier_id}  {dossier.page_count:>3} page(s)  "
            f"submission {result.number}\n"
        )
        for line in verdict_text_lines(verdict):
            sys.stdout.write(f"           {line}\n")
    return ExitCode.OK if str(dossier.status) == "archived" else ExitCode.DOSSIER_FAILED
