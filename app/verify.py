"""``sohoa verify``: is every archived dossier still exactly what was archived?

For an archived dossier: its manifest exists (an archived dossier without one is an
error) and names the dossier; every object it lists is read again and its size and
SHA-256 compared; the original's SHA-256 is compared with the database as well (the
manifest could be rewritten, the database row and the signature are kept elsewhere); and
the digitiser's signature on dossier.pdf is validated (intact, valid, covering the whole
file, chained to SOHOA_TRUST_ROOTS when given) and compared with what the manifest
recorded. An unsigned dossier.pdf is reported as "unsigned", an error only under
SOHOA_SIGNING_REQUIRED. A dossier that is not archived (failed, still processing) has its
kept original checked against the database; a duplicate has nothing of its own to check.

Dossiers are read a page at a time and objects one at a time through a scratch file, so
memory stays flat whatever the size of the archive.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config import Settings
from config.signers import SignerConfigError
from models import DossierInfo, DossierStatus
from models.errors import DossierNotFoundError, ExitCode, ObjectNotFoundError, StorageError
from storage import keys

PAGE_SIZE = 200  # dossiers fetched from the database at a time


@dataclass(frozen=True)
class Verdict:
    """The outcome for one dossier: one line of the report."""

    dossier_id: str
    status: str  # the dossier's status, or "missing" for an unknown id
    problems: tuple[str, ...] = ()
    objects: int = 0  # objects re-read and compared
    signature: dict[str, Any] | None = None  # signer, time, validity; None: unsigned/unchecked
    note: str = ""  # what was checked, when it was not the full archive check

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        if self.problems:
            return f"PROBLEM  {self.dossier_id}  " + "; ".join(self.problems)
        return f"ok       {self.dossier_id}  {self.note or self.status}"

    def to_json(self) -> dict[str, Any]:
        return {
            "dossier_id": self.dossier_id,
            "status": self.status,
            "ok": self.ok,
            "problems": list(self.problems),
            "objects": self.objects,
            "signature": self.signature,
            "note": self.note,
        }


@dataclass
class Summary:
    checked: int = 0
    ok: int = 0
    problems: int = 0
    missing: int = 0
    unsigned: int = 0

    def add(self, verdict: Verdict) -> None:
        self.checked += 1
        if verdict.status == "missing":
            self.missing += 1
        elif verdict.ok:
            self.ok += 1
        else:
            self.problems += 1
        if verdict.status == DossierStatus.ARCHIVED and verdict.signature is None:
            self.unsigned += 1

    def line(self) -> str:
        text = f"verified {self.checked} dossier(s): {self.ok} ok"
        if self.problems:
            text += f", {self.problems} with problems"
        if self.missing:
            text += f", {self.missing} not found"
        if self.unsigned:
            text += f" ({self.unsigned} archived unsigned)"
        return text

    def exit_code(self) -> ExitCode:
        if self.problems:
            return ExitCode.INTEGRITY
        if self.missing:
            return ExitCode.NOT_FOUND
        return ExitCode.OK


@dataclass(frozen=True)
class VerifyOptions:
    scratch: Path  # a private directory for the object being checked
    trust_roots: tuple[Path, ...] = ()
    signing_required: bool = False


def every_dossier(meta: Any, page_size: int = PAGE_SIZE) -> Iterator[DossierInfo]:
    """Every dossier, newest first, a page at a time.

    All statuses are read and filtered by the caller: dossiers are only ever added, so the
    offsets of those not yet read can only grow while we page (a new dossier makes one be
    read twice, never skipped), which a filter on "archived" could not promise.
    """
    offset = 0
    while True:
        page = meta.list_dossiers(limit=page_size, offset=offset)
        yield from page
        if len(page) < page_size:
            return
        offset += page_size


def _fetch(objects: Any, key: str, scratch: Path) -> tuple[Any, str | None]:
    """Read one object into ``scratch``: (StoredObject as read, or None with the problem)."""
    try:
        return objects.get_file(key, scratch), None
    except ObjectNotFoundError:
        return None, f"{key}: missing"
    except StorageError as exc:  # e.g. S3 refuses an object that no longer matches its hash
        return None, exc.message


def _check_signature(
    pdf: Path, manifest_signature: dict[str, Any] | None, options: VerifyOptions
) -> tuple[list[str], dict[str, Any] | None]:
    # Imported here: pyHanko's import costs ~0.8 s, needless for `sohoa --help`.
    from models.errors import BadInputError, NotSignedError
    from pipeline.sign import verify_pdf_signature

    problems: list[str] = []
    try:
        report = verify_pdf_signature(pdf, trust_roots=list(options.trust_roots) or None)
    except NotSignedError:
        if manifest_signature is not None:
            problems.append("dossier.pdf carries no signature but the manifest records one")
        elif options.signing_required:
            problems.append("dossier.pdf is unsigned but signing is required")
        return problems, None
    except BadInputError as exc:
        return [f"dossier.pdf: {exc.problem}"], None
    when = report.signing_time.isoformat() if report.signing_time else None
    found = {
        "signer": report.signer_common_name,
        "signed_at": when,
        "intact": report.intact,
        "valid": report.valid,
        "covers_whole_document": report.covers_whole_document,
        "trusted": report.trusted if options.trust_roots else None,
    }
    if not (report.intact and report.valid):
        problems.append(report.summary)
    elif not report.covers_whole_document:
        problems.append("dossier.pdf: content was added after signing")
    elif options.trust_roots and not report.trusted:
        problems.append(
            f"dossier.pdf: certificate of {report.signer_common_name} does not chain to "
            "SOHOA_TRUST_ROOTS"
        )
    if manifest_signature is None:
        problems.append("dossier.pdf is signed but the manifest records no signature")
    else:
        recorded = manifest_signature.get("certificate_subject")
        if recorded and recorded != report.signer_common_name:
            problems.append(
                f"dossier.pdf is signed by {report.signer_common_name}, the manifest says "
                f"{recorded}"
            )
        found["signer_name"] = manifest_signature.get("signer_name")
        found["certificate_sha256"] = manifest_signature.get("certificate_sha256")
    return problems, found


def _signature_note(signature: dict[str, Any] | None, options: VerifyOptions) -> str:
    if signature is None:
        return "unsigned"
    who = signature.get("signer_name") or signature.get("signer")
    note = f"signed by {who} at {signature.get('signed_at')}"
    if not options.trust_roots:
        note += " (certificate not checked: no SOHOA_TRUST_ROOTS)"
    return note


def verify_archived(dossier: DossierInfo, objects: Any, options: VerifyOptions) -> Verdict:
    """Manifest, every object it lists, the original against the database, the signature."""
    dossier_id = dossier.dossier_id
    status = str(dossier.status)
    try:
        manifest = json.loads(objects.get_bytes(keys.manifest_key(dossier_id)))
    except ObjectNotFoundError:
        return Verdict(dossier_id, status, ("archived but has no manifest",))
    except StorageError as exc:
        return Verdict(dossier_id, status, (f"manifest: {exc.message}",))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Verdict(dossier_id, status, (f"manifest is not valid JSON ({exc})",))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("objects"), list):
        return Verdict(dossier_id, status, ("manifest lists no objects",))
    problems: list[str] = []
    if manifest.get("dossier_id") != dossier_id:
        problems.append(f"manifest is for dossier {manifest.get('dossier_id')!r}")
    entries = [e for e in manifest["objects"] if isinstance(e, dict)]
    roles = [e.get("role") for e in entries]
    for needed in ("pdf", "original"):
        if needed not in roles:
            problems.append(f"manifest lists no {needed}")
    pdf_copy = options.scratch / "dossier.pdf"
    pdf_copy.unlink(missing_ok=True)
    checked = 0
    for entry in entries:
        key, role = str(entry.get("key")), entry.get("role")
        target = pdf_copy if role == "pdf" else options.scratch / "object"
        stored, problem = _fetch(objects, key, target)
        if stored is None:
            problems.append(problem or f"{key}: unreadable")
            continue
        checked += 1
        if stored.size != entry.get("size"):
            problems.append(f"{key}: {stored.size} bytes, the manifest says {entry.get('size')}")
        if stored.sha256 != entry.get("sha256"):
            problems.append(f"{key}: SHA-256 {stored.sha256[:16]}… differs from the manifest")
        if role == "original" and stored.sha256 != dossier.original_sha256:
            problems.append(
                f"{key}: SHA-256 {stored.sha256[:16]}… differs from the database's "
                f"{(dossier.original_sha256 or 'none')[:16]}…"
            )
    (options.scratch / "object").unlink(missing_ok=True)
    found: dict[str, Any] | None = None
    if pdf_copy.is_file():
        recorded = manifest.get("signature")
        signature_problems, found = _check_signature(
            pdf_copy, recorded if isinstance(recorded, dict) else None, options
        )
        problems += signature_problems
        pdf_copy.unlink()
    note = f"archived, {checked} objects match, {_signature_note(found, options)}"
    return Verdict(dossier_id, status, tuple(problems), checked, found, note)


def verify_kept_original(
    dossier: DossierInfo, meta: Any, objects: Any, options: VerifyOptions
) -> Verdict:
    """A dossier not archived (failed, processing): its kept original against the database."""
    status = str(dossier.status)
    key = meta.original_key(dossier.dossier_id)
    if not key:
        return Verdict(dossier.dossier_id, status, note=f"{status}, no original stored yet")
    target = options.scratch / "object"
    stored, problem = _fetch(objects, key, target)
    target.unlink(missing_ok=True)
    if stored is None:
        return Verdict(dossier.dossier_id, status, (problem or f"{key}: unreadable",))
    problems = []
    if stored.sha256 != dossier.original_sha256:
        problems.append(
            f"{key}: SHA-256 {stored.sha256[:16]}… differs from the database's "
            f"{(dossier.original_sha256 or 'none')[:16]}…"
        )
    if dossier.original_size is not None and stored.size != dossier.original_size:
        problems.append(f"{key}: {stored.size} bytes, the database says {dossier.original_size}")
    return Verdict(
        dossier.dossier_id, status, tuple(problems), 1, note=f"{status}, original kept intact"
    )


def verify_dossier(
    dossier: DossierInfo, meta: Any, objects: Any, options: VerifyOptions
) -> Verdict | None:
    """The check that fits the dossier's status; None for a duplicate (nothing of its own)."""
    if dossier.status is DossierStatus.ARCHIVED:
        return verify_archived(dossier, objects, options)
    if dossier.status is DossierStatus.DUPLICATE:
        return None
    return verify_kept_original(dossier, meta, objects, options)


def _named(meta: Any, dossier_ids: Sequence[str]) -> Iterator[DossierInfo | str]:
    for dossier_id in dossier_ids:
        try:
            yield meta.get_dossier(dossier_id)
        except DossierNotFoundError:
            yield dossier_id


def run_verify(
    meta: Any,
    objects: Any,
    dossiers: Iterable[DossierInfo | str],
    options: VerifyOptions,
    emit: Callable[[Verdict], None],
) -> Summary:
    """Check each dossier (a string is an id that was not found), report each, sum up."""
    summary = Summary()
    for dossier in dossiers:
        if isinstance(dossier, str):
            verdict = Verdict(dossier, "missing", (f"no dossier with id {dossier!r}",))
        else:
            checked = verify_dossier(dossier, meta, objects, options)
            if checked is None:
                continue
            verdict = checked
        summary.add(verdict)
        emit(verdict)
    return summary


def _check_trust_roots(roots: tuple[Path, ...]) -> None:
    for root in roots:
        if not root.is_file():
            raise SignerConfigError(f"{root}: trust root not found (SOHOA_TRUST_ROOTS)")


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.all) == bool(args.dossier_ids):
        raise ValueError("verify: give DOSSIER_ID ... or --all (not both)")
    _check_trust_roots(settings.trust_roots)
    from flows.runtime import metadata_store, object_store

    meta, objects = metadata_store(settings), object_store(settings)
    dossiers: Iterable[DossierInfo | str] = (
        every_dossier(meta) if args.all else _named(meta, args.dossier_ids)
    )

    def emit(verdict: Verdict) -> None:
        if args.json:
            sys.stdout.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(verdict.line() + "\n")
        sys.stdout.flush()  # a long run shows its progress as it goes

    with tempfile.TemporaryDirectory(prefix="sohoa-verify-") as scratch:
        options = VerifyOptions(
            scratch=Path(scratch),
            trust_roots=settings.trust_roots,
            signing_required=settings.signing_required,
        )
        summary = run_verify(meta, objects, dossiers, options, emit)
    if args.json:
        sys.stdout.write(json.dumps({"summary": asdict(summary)}, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(summary.line() + "\n")
    code = summary.exit_code()
    if code is not ExitCode.OK:
        sys.stderr.write(f"sohoa: error: {summary.line()}\n")
    return code
