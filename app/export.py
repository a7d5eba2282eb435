"""``sohoa export``: archived dossiers as E-ARK CSIP information packages (issue 27).

The dossier is gathered from the stores into a ``models.package.DossierPackage`` (every file
read back through the manifest check into a scratch folder first, so a package never
carries an object that changed since archiving) and ``pipeline.eark`` writes the package.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import mimetypes
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from config import Settings
from models import BatchInfo, DossierInfo, DossierStatus, SearchQuery
from models.errors import DossierNotFoundError, ExitCode, SohoaError, StorageError
from models.package import (
    DossierPackage,
    PackageAgent,
    PackageEvent,
    PackageFile,
    SignatureRecord,
    package_id,
)

SOFTWARE = "sohoa"
_DIGITISED = "digitised by sohoa: pages cleaned, OCR (Tesseract vie), fields read"
_ARCHIVED = "archived: PDF/A-2b with its text layer, manifest with SHA-256"
_PDF_LABEL = "the signed PDF/A-2b copy"
_PROGRAM = ((SOFTWARE, "executing program"),)


def add_commands(commands: Any) -> None:
    export = commands.add_parser(
        "export", help="write archived dossiers as E-ARK CSIP information packages"
    )
    export.add_argument("dossier_ids", nargs="*", metavar="DOSSIER_ID")
    export.add_argument("-o", "--output", required=True, help="folder to write the packages to")
    export.add_argument(
        "--from", dest="date_from", type=date.fromisoformat, help="received on or after YYYY-MM-DD"
    )
    export.add_argument(
        "--to", dest="date_to", type=date.fromisoformat, help="received on or before YYYY-MM-DD"
    )
    export.add_argument("--agency", help="with --from/--to: only this agency's dossiers")
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from flows.runtime import metadata_store, object_store
    from pipeline.eark import VIETNAM

    if not args.dossier_ids and args.date_from is None and args.date_to is None:
        sys.stderr.write("sohoa: error: name dossiers, or give --from/--to\n")
        return ExitCode.USAGE
    meta, objects = metadata_store(settings), object_store(settings)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    ids = list(args.dossier_ids)
    if args.date_from is not None or args.date_to is not None:
        start = datetime.combine(args.date_from, time(), VIETNAM) if args.date_from else None
        end = (
            datetime.combine(args.date_to + timedelta(days=1), time(), VIETNAM)
            if args.date_to
            else None
        )
        ids += [d.dossier_id for d in _archived_between(meta, start, end, args.agency)]
    written = skipped = 0
    for dossier_id in dict.fromkeys(ids):
        try:
            folder = export_dossier(meta, objects, dossier_id, out)
        except SohoaError as exc:
            skipped += 1
            sys.stdout.write(f"skipped  {dossier_id}  {exc.message}\n")
            continue
        written += 1
        sys.stdout.write(f"ok       {dossier_id}  {folder}\n")
    sys.stdout.write(f"exported {written} package(s), skipped {skipped}\n")
    return ExitCode.OK if skipped == 0 else ExitCode.DOSSIER_FAILED


def _archived_between(
    meta: Any, start: datetime | None, end: datetime | None, agency: str | None
) -> Iterator[DossierInfo]:
    """Archived dossiers received in [start, end), oldest first, a page at a time."""
    offset = 0
    while True:
        page = meta.search(
            SearchQuery(
                received_from=start,
                received_to=end,
                agency_code=agency,
                status=DossierStatus.ARCHIVED,
                sort="oldest",
                limit=200,
                offset=offset,
            )
        )
        yield from page.items
        if not page.has_more:
            return
        offset += len(page.items)


class NotExportable(SohoaError):
    exit_code = ExitCode.DOSSIER_FAILED


def export_dossier(meta: Any, objects: Any, dossier_id: str, out: Path) -> Path:
    """Write one archived dossier's package into ``out``; the package folder is returned.

    Raises ``NotExportable`` (one line) for a dossier that is not archived, and
    ``StorageError`` for one whose stored objects no longer match its manifest."""
    from pipeline.eark import write_package

    try:
        dossier = meta.get_dossier(dossier_id)
    except DossierNotFoundError:
        raise NotExportable("no such dossier") from None
    if dossier.status != DossierStatus.ARCHIVED or dossier.archived_at is None:
        raise NotExportable(f"not archived (status {dossier.status})")
    with tempfile.TemporaryDirectory(prefix="sohoa-export-") as scratch:
        package = gather(meta, objects, dossier, Path(scratch))
        return write_package(package, out)


def _copy_verified(objects: Any, dossier_id: str, key: str, target: Path) -> tuple[int, str]:
    from storage.archive import verified_stream

    size, chunks = verified_stream(objects, dossier_id, key)
    digest = hashlib.sha256()
    with target.open("wb") as handle:
        for chunk in chunks:
            digest.update(chunk)
            handle.write(chunk)
    return size, digest.hexdigest()


def _mime(key: str, media_type: str | None) -> str:
    if media_type:
        return media_type.split(";")[0].strip()
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _extension(key: str) -> str:
    return Path(key).suffix.lower() or ".bin"


def gather(meta: Any, objects: Any, dossier: DossierInfo, scratch: Path) -> DossierPackage:
    """The dossier as a package sees it, its files verified into ``scratch``."""
    from config.catalogue import load_catalogue
    from storage.archive import read_manifest

    assert dossier.archived_at is not None
    archived_at = _aware(dossier.archived_at)
    dossier_id = dossier.dossier_id
    manifest = read_manifest(objects, dossier_id)
    files = _package_files(meta, objects, dossier, manifest, scratch, archived_at)
    batch = meta.get_batch(dossier.batch_id)
    signature = _signature(manifest.get("signature"))
    procedure = load_catalogue().procedure(dossier.procedure) if dossier.procedure else None
    agents, events = package_history(meta, dossier, batch, signature, files)
    code = dossier.dossier_code
    return DossierPackage(
        dossier_id=dossier_id,
        package_id=package_id(dossier_id, archived_at),
        title=f"Hồ sơ {code}" if code else f"Hồ sơ {dossier_id}",
        archived_at=archived_at,
        received_at=_aware(dossier.created_at),
        dossier_code=code,
        procedure=dossier.procedure,
        procedure_name=procedure.name if procedure else None,
        agency_code=dossier.agency_code,
        owner_name=dossier.full_name,
        page_count=dossier.page_count,
        files=tuple(files),
        agents=tuple(agents.values()),
        events=tuple(events),
        signature=signature,
        software=SOFTWARE,
        software_version=_software_version(),
    )


def _package_files(
    meta: Any,
    objects: Any,
    dossier: DossierInfo,
    manifest: dict[str, Any],
    scratch: Path,
    archived_at: datetime,
) -> list[PackageFile]:
    """What the package carries, each file verified against the manifest into ``scratch``:
    every file the dossier was handed in as (the first one the original), then the PDF."""
    from storage.archive import own_original_key

    dossier_id = dossier.dossier_id
    roles: dict[str, list[str]] = {}
    for entry in manifest.get("objects", []):
        roles.setdefault(str(entry.get("role")), []).append(str(entry.get("key")))
    submissions = meta.submissions(dossier_id)
    files: list[PackageFile] = []

    def take(key: str, name: str, role: str, mime: str, created: datetime, label: str) -> None:
        size, sha256 = _copy_verified(objects, dossier_id, key, scratch / name)
        files.append(PackageFile(name, scratch / name, role, mime, sha256, size, created, label))

    if submissions:  # rescanned: every file it was handed in as, the first one among them
        for sub in submissions:
            replaced = ", ".join(map(str, sub.replaces))
            label = f"submission {sub.number}" + (
                f" (replaces page(s) {replaced})" if replaced else ""
            )
            take(
                sub.object_key,
                f"submission-{sub.number}{_extension(sub.object_key)}",
                "original" if sub.number == 1 else "submission",
                _mime(sub.object_key, sub.media_type),
                sub.submitted_at,
                label,
            )
    else:
        original = own_original_key(objects, dossier_id)
        if original is None:
            raise NotExportable("its manifest names no original of its own")
        take(
            original,
            f"original{_extension(original)}",
            "original",
            _mime(original, dossier.media_type),
            dossier.created_at,
            "the file handed in at the counter",
        )
    pdf_keys = roles.get("pdf", [])
    if not pdf_keys:
        raise StorageError(f"dossier {dossier_id}: its manifest names no archived PDF")
    take(pdf_keys[0], "dossier.pdf", "pdf", "application/pdf", archived_at, _PDF_LABEL)
    return files


def _software_version() -> str:
    try:
        return importlib.metadata.version("sohoa")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _signature(record: dict[str, Any] | None) -> SignatureRecord | None:
    if not record:
        return None
    return SignatureRecord(
        signer_name=str(record.get("signer_name", "")),
        signed_at=datetime.fromisoformat(str(record["signed_at"])),
        certificate_subject=str(record.get("certificate_subject", "")),
        certificate_serial=str(record.get("certificate_serial", "")),
        certificate_sha256=str(record.get("certificate_sha256", "")),
    )


def package_history(
    meta: Any,
    dossier: DossierInfo,
    batch: BatchInfo,
    signature: SignatureRecord | None,
    files: Sequence[PackageFile],
) -> tuple[dict[str, PackageAgent], list[PackageEvent]]:
    """PREMIS agents and events from the dossier's event log, corrections and signature,
    the events in time order."""
    agents: dict[str, PackageAgent] = {
        SOFTWARE: PackageAgent(SOFTWARE, SOFTWARE, "software", "OCR, field extraction, PDF/A")
    }
    clerk = clerk_agent(batch)
    if clerk is not None:
        agents[clerk.key] = clerk
    events = lifecycle_events(meta.events(dossier.dossier_id), files, clerk)
    for correction in meta.corrections(dossier.dossier_id):
        key = f"person:{correction.corrected_by}"
        agents.setdefault(key, PackageAgent(key, correction.corrected_by, "person", "operator"))
        events.append(
            PackageEvent(
                "metadata modification",
                correction.corrected_at,
                f"field {correction.name} corrected",
                agents=((key, "implementer"),),
            )
        )
    if signature is not None:
        digitiser = _digitiser_agent(signature)
        agents[digitiser.key] = digitiser
        events.append(
            PackageEvent(
                "digital signature generation",
                signature.signed_at,
                "the digitiser's signature of the PDF/A copy (TT 01/2023/TT-VPCP Art. 8)",
                agents=((digitiser.key, "implementer"), *_PROGRAM),
                files=tuple(f.name for f in files if f.role == "pdf"),
            )
        )
    events = [replace(event, at=_aware(event.at)) for event in events]
    events.sort(key=lambda event: event.at)
    return agents, events


def clerk_agent(batch: BatchInfo) -> PackageAgent | None:
    """The person who handed the batch in (their account, else the name recorded), and
    where; None when the batch names nobody."""
    clerk = batch.uploaded_by_account or batch.uploaded_by
    if not clerk:
        return None
    where = ", ".join(
        part
        for part in (
            f"counter {batch.counter_id}" if batch.counter_id else "",
            f"post office {batch.post_office_id}" if batch.post_office_id else "",
        )
        if part
    )
    key = f"clerk:{clerk}"
    return PackageAgent(key, clerk, "person", where or "counter clerk")


def _digitiser_agent(signature: SignatureRecord) -> PackageAgent:
    return PackageAgent(
        "digitiser",
        signature.signer_name,
        "person",
        f"certificate {signature.certificate_subject}, serial {signature.certificate_serial}, "
        f"SHA-256 {signature.certificate_sha256}",
    )


def lifecycle_events(
    log: Iterable[tuple[datetime, str, str | None]],
    files: Sequence[PackageFile],
    clerk: PackageAgent | None,
) -> list[PackageEvent]:
    """PREMIS events from the dossier's event log (at, status, message), in its order:
    received (or rescanned), digitised or failed, archived. Corrections (``field ...``
    messages) are left out: they are told from the corrections table, without values."""
    originals = tuple(f.name for f in files if f.role in ("original", "submission"))
    pdf = tuple(f.name for f in files if f.role == "pdf")
    by_number = {f.name.split(".")[0].removeprefix("submission-"): f.name for f in files}
    handed_in_by = ((clerk.key, "implementer"),) if clerk is not None else ()
    events: list[PackageEvent] = []
    first = True
    for at, status, message in log:
        text = message or ""
        if text.startswith("field "):
            continue
        if status == DossierStatus.RECEIVED:
            if text.startswith("rescan "):
                name = by_number.get(text.split()[1].rstrip(":"))
                files_of = (name,) if name else ()
                events.append(
                    PackageEvent("capture", at, text, agents=handed_in_by, files=files_of)
                )
            else:
                events.append(_received_event(at, text, first, handed_in_by, originals))
            first = False
        elif status == DossierStatus.PROCESSING:
            detail = f"{_DIGITISED}; {text}" if text else _DIGITISED
            events.append(
                PackageEvent("digitization", at, detail, agents=_PROGRAM, files=originals)
            )
        elif status == DossierStatus.FAILED:
            events.append(
                PackageEvent("digitization", at, text or "failed", "fail", _PROGRAM, originals)
            )
        elif status == DossierStatus.ARCHIVED:
            if not any(e.kind == "digitization" and e.outcome == "success" for e in events):
                # Read without a "processing" mark (steps run directly): digitised all the same.
                events.append(
                    PackageEvent("digitization", at, _DIGITISED, agents=_PROGRAM, files=originals)
                )
            detail = f"{_ARCHIVED}; {text}" if text else _ARCHIVED
            events.append(PackageEvent("ingestion end", at, detail, "success", _PROGRAM, pdf))
    return events


def _received_event(
    at: datetime,
    text: str,
    first: bool,
    handed_in_by: tuple[tuple[str, str], ...],
    originals: tuple[str, ...],
) -> PackageEvent:
    """The counter taking the dossier in (the first time, by the clerk), or sending it back
    to be read again."""
    if first:
        detail, who, files = "received at the counter", handed_in_by, originals[:1]
    else:
        detail, who, files = text or "received again", (), ()
    return PackageEvent("ingestion start", at, detail, agents=who + _PROGRAM, files=files)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive times; sohoa stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
