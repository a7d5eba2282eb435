"""Sign the archival copy: PAdES signature of the digitiser, visible top-left on page 1.

TT 01/2023/TT-VPCP Art. 8: the person who digitised the paper signs each electronic copy
with a personal digital signature; their name, the signing time and the signature are shown
at the top left of the first page. The stamp is kept small (about 62 x 18 mm) so that it
hides as little of the scan as it must.

The signature is an incremental update (pyHanko): everything before it, including the
PDF/A structure made by :mod:`pipeline.pdfa`, stays byte for byte. The update itself keeps
PDF/A-2b: the stamp embeds its font (a TrueType face with Vietnamese letters), uses no
transparency, and the Info dictionary and XMP are updated to the same values.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pikepdf
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from models.errors import BadInputError, NotSignedError, SigningCredentialError, SigningError
from pipeline.stamp import (
    STAMP_PHRASE,
    stamp_font,
    stamp_rect,
    stamp_style,
    stamp_text,
)

VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")  # no daylight saving in Viet Nam
DEFAULT_FIELD = "SohoaDigitiser"
# pyHanko logs every failed path or broken signature as a WARNING with a traceback; the
# SignatureReport already says it in one line, which is what the counter should read.
logging.getLogger("pyhanko.sign.validation").setLevel(logging.ERROR)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)


@dataclass(frozen=True)
class SignatureInfo:
    """What was signed, for the dossier record."""

    path: Path
    field_name: str
    signer_name: str  # shown on the stamp
    certificate_subject: str  # common name in the certificate
    certificate_serial: str  # hex
    certificate_sha256: str  # fingerprint of the signing certificate
    signed_at: datetime
    stamp_rect: tuple[float, float, float, float]  # widget /Rect on page 1, PDF user space
    sha256: str  # of the signed file: check it after every transfer


@dataclass(frozen=True)
class SignatureReport:
    """The outcome of checking the latest signature of a PDF."""

    field_name: str
    signer_common_name: str
    signing_time: datetime | None
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature matches the certificate
    trusted: bool  # the certificate chains to a trust root
    covers_whole_document: bool  # nothing was appended after the signature
    signature_count: int
    summary: str  # one line, for the person at the counter

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_document


# --- credentials ---------------------------------------------------------------------------


def _load_signer(
    pkcs12_path: Path, password: bytes | None, at: datetime
) -> tuple[signers.SimpleSigner, x509.Certificate]:
    label = pkcs12_path.name
    try:
        data = pkcs12_path.read_bytes()
    except FileNotFoundError:
        raise SigningCredentialError(f"{pkcs12_path}: PKCS#12 file not found") from None
    except OSError as exc:
        raise SigningCredentialError(f"{pkcs12_path}: cannot read PKCS#12 ({exc})") from None
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise SigningCredentialError(
            f"{label}: cannot open the PKCS#12 file: wrong password or not a PKCS#12 file"
        ) from None
    except TypeError:  # a password given for an unprotected file, or none for a protected one
        raise SigningCredentialError(f"{label}: wrong PKCS#12 password") from None
    if key is None or certificate is None:
        raise SigningCredentialError(f"{label}: PKCS#12 holds no private key and certificate")
    if certificate.not_valid_after_utc < at:
        raise SigningCredentialError(
            f"{label}: certificate of {_common_name(certificate)} expired on "
            f"{certificate.not_valid_after_utc:%Y-%m-%d}"
        )
    if certificate.not_valid_before_utc > at:
        raise SigningCredentialError(
            f"{label}: certificate of {_common_name(certificate)} is valid only from "
            f"{certificate.not_valid_before_utc:%Y-%m-%d}"
        )
    der = serialization.Encoding.DER
    signing_key = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    store = SimpleCertificateStore()
    store.register_multiple([asn1_x509.Certificate.load(c.public_bytes(der)) for c in chain])
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(certificate.public_bytes(der)),
        signing_key=signing_key,
        cert_registry=store,
    )
    return signer, certificate


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


# --- pyHanko hooks -------------------------------------------------------------------------


_XMP_NS = "http://ns.adobe.com/xap/1.0/"
_PDF_NS = "http://ns.adobe.com/pdf/1.3/"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def patch_xmp(packet: bytes, *, producer: str, modified: datetime) -> bytes:
    """``packet`` with pdf:Producer, xmp:ModifyDate and xmp:MetadataDate set; rest kept.

    Element or attribute form, prefixes and the extension schema are left as they are.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    root = etree.fromstring(packet, parser=parser)
    descriptions = root.findall(f".//{{{_RDF_NS}}}Description")
    if not descriptions:
        raise ValueError("XMP packet has no rdf:Description")
    date = modified.replace(microsecond=0).isoformat()
    for namespace, prefix, local, value in (
        (_PDF_NS, "pdf", "Producer", producer),
        (_XMP_NS, "xmp", "ModifyDate", date),
        (_XMP_NS, "xmp", "MetadataDate", date),
    ):
        tag = f"{{{namespace}}}{local}"
        found = False
        for element in root.iter(tag):
            element.text = value
            found = True
        for description in descriptions:
            if tag in description.attrib:
                description.set(tag, value)
                found = True
        if not found:
            holder = etree.SubElement(
                descriptions[0].getparent(), f"{{{_RDF_NS}}}Description", nsmap={prefix: namespace}
            )
            holder.set(f"{{{_RDF_NS}}}about", "")
            etree.SubElement(holder, tag).text = value
    body = etree.tostring(root, encoding="utf-8")
    head = (
        packet[: packet.find(b"<", packet.find(b"?>") + 2)]
        if packet.startswith(b"<?xpacket")
        else b""
    )
    return head + body + b'\n<?xpacket end="w"?>'


class _ArchiveWriter(IncrementalPdfFileWriter):
    """Incremental writer that keeps Info and XMP in step (ISO 19005-2 6.6.2.3.1).

    pyHanko on its own appends itself to the Info /Producer but writes only its own name to
    XMP pdf:Producer, takes "now" twice for the two modification dates, and re-serialises
    the XMP in its own model (renaming custom prefixes); a PDF/A checker compares Info
    with XMP. Here the packet is patched in place and both get the same producer and time.
    """

    def __init__(self, stream: io.BufferedIOBase, *, modified_at: datetime) -> None:
        super().__init__(stream, strict=False)
        self._modified_at = modified_at

    def _update_meta(self) -> None:
        try:
            metadata = self.root["/Metadata"]
            packet = metadata.data
        except (KeyError, AttributeError):
            super()._update_meta()  # no XMP: a plain PDF, pyHanko's own bookkeeping is fine
            return
        producer = model.VENDOR
        if self._info is not None:
            info = self._info.get_object()
            existing = str(info.get("/Producer", ""))
            if existing:
                producer = existing if model.VENDOR in existing else f"{existing}; {model.VENDOR}"
            info["/Producer"] = generic.TextStringObject(producer)
            info["/ModDate"] = generic.pdf_date(self._modified_at)
            self.mark_update(self._info)
        try:
            patched = patch_xmp(packet, producer=producer, modified=self._modified_at)
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise SigningError(f"cannot update the XMP metadata ({exc})") from None
        stream = generic.StreamObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Metadata"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/XML"),
            },
            stream_data=patched,
        )
        self.root["/Metadata"] = self.add_object(stream)
        self.update_root()


class _TimedPdfSigner(signers.PdfSigner):
    """PdfSigner that signs at a given time (the /M entry and the stamp) instead of now."""

    def __init__(self, *args: Any, signed_at: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signed_at = signed_at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signed_at
        return session


# --- signing -------------------------------------------------------------------------------


def _first_page(pdf_path: Path) -> tuple[tuple[float, float, float, float], int, set[str]]:
    """Page 1's visible box and rotation, and the signature field names already used."""
    try:
        with pikepdf.open(pdf_path) as pdf:
            page = pdf.pages[0]
            box = tuple(float(v) for v in page.cropbox)
            node: pikepdf.Object | None = page.obj
            rotate = 0
            while node is not None:  # /Rotate is inheritable
                if "/Rotate" in node:
                    rotate = int(node.Rotate) % 360
                    break
                node = node.get("/Parent")
            names: set[str] = set()
            form = pdf.Root.get("/AcroForm")
            for field_ in (form.get("/Fields") if form is not None else None) or []:
                if "/T" in field_:
                    names.add(str(field_.T))
    except pikepdf.PasswordError:
        raise BadInputError(pdf_path.name, "encrypted PDF cannot be signed") from None
    except FileNotFoundError:
        raise BadInputError(pdf_path.name, "file not found") from None
    except (pikepdf.PdfError, IndexError) as exc:
        raise BadInputError(pdf_path.name, f"cannot open PDF ({exc})") from None
    return (box[0], box[1], box[2], box[3]), rotate, names


def sign_pdf(
    pdf_path: Path,
    output_path: Path,
    *,
    pkcs12_path: Path,
    pkcs12_password: bytes | None,
    signer_name: str,
    signed_at: datetime | None = None,
    reason: str | None = None,
    location: str | None = None,
    font_path: Path | None = None,
    field_name: str = DEFAULT_FIELD,
) -> SignatureInfo:
    """Sign ``pdf_path`` as the digitiser into ``output_path`` (may be the same path).

    ``signed_at`` must carry a time zone; it defaults to now in Viet Nam time and is what
    the stamp and the signature dictionary show (the certificate must be valid then).
    """
    if signed_at is None:
        signed_at = datetime.now(VIETNAM_TIME)
    if signed_at.tzinfo is None:
        raise ValueError("signed_at must carry a time zone")
    signed_at = signed_at.replace(microsecond=0)
    signer_name = unicodedata.normalize("NFC", " ".join(signer_name.split()))
    if not signer_name:
        raise ValueError("signer_name is empty")
    box, rotate, taken = _first_page(pdf_path)
    signer, certificate = _load_signer(pkcs12_path, pkcs12_password, signed_at.astimezone(UTC))
    text = stamp_text(signer_name, signed_at)
    font = stamp_font(text, font_path)
    name = _free_field_name(field_name, taken)
    # pyHanko takes whole points; a rounding of at most half a point.
    rect = tuple(round(v) for v in stamp_rect(box, rotate))
    assert len(rect) == 4
    metadata = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or STAMP_PHRASE,
        location=location,
        name=signer_name,
    )
    pdf_signer = _TimedPdfSigner(
        metadata,
        signer=signer,
        stamp_style=stamp_style(text, font, rotate),
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=name, on_page=0, box=(rect[0], rect[1], rect[2], rect[3])
        ),
        signed_at=signed_at,
    )
    _write_signed(pdf_path, output_path, pdf_signer, signed_at)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SignatureInfo(
        path=output_path,
        field_name=name,
        signer_name=signer_name,
        certificate_subject=_common_name(certificate),
        certificate_serial=f"{certificate.serial_number:x}",
        certificate_sha256=hashlib.sha256(der).hexdigest(),
        signed_at=signed_at,
        stamp_rect=(float(rect[0]), float(rect[1]), float(rect[2]), float(rect[3])),
        sha256=_sha256(output_path),
    )


def _free_field_name(field_name: str, taken: set[str]) -> str:
    """``field_name``, or with the first number from 2 that no field of the file has."""
    name = field_name
    number = 1
    while name in taken:
        number += 1
        name = f"{field_name}{number}"
    return name


def _write_signed(
    pdf_path: Path, output_path: Path, pdf_signer: _TimedPdfSigner, signed_at: datetime
) -> None:
    """The signed copy written beside ``output_path`` and moved over it once on disk, so a
    failed signing never leaves a half-written file where the archive expects one."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(f".{output_path.name}.sign.part")
    try:
        with pdf_path.open("rb") as source, tmp.open("wb") as out:
            writer = _ArchiveWriter(source, modified_at=signed_at)
            pdf_signer.sign_pdf(writer, output=out)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(output_path)
    except PdfReadError as exc:
        raise BadInputError(pdf_path.name, f"cannot read PDF for signing ({exc})") from None
    except (PyHankoSigningError, OSError) as exc:
        raise SigningError(f"{pdf_path.name}: signing failed ({exc})") from None
    finally:
        tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    from pipeline.load import file_sha256

    return file_sha256(path)


# --- verification --------------------------------------------------------------------------


def _load_roots(paths: Sequence[Path]) -> list[asn1_x509.Certificate]:
    roots = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInputError(path.name, f"cannot read trust root ({exc})") from None
        try:
            if b"-----BEGIN" in data:
                certificates = x509.load_pem_x509_certificates(data)
            else:
                certificates = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise BadInputError(path.name, "not a PEM or DER certificate") from None
        roots += [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in certificates
        ]
    return roots


def verify_pdf_signature(
    pdf_path: Path, *, trust_roots: Sequence[Path] | None = None
) -> SignatureReport:
    """Check the latest signature of ``pdf_path`` (no network: nothing is fetched).

    ``trust_roots``: CA certificates (PEM or DER files) to trust, e.g. the national root CA
    of the signature service; with None nothing is trusted (``trusted`` is False) - the
    operating system's web CAs are not signature authorities for Viet Nam.
    Raises :class:`BadInputError` when the file is unreadable or carries no signature.
    """
    name = pdf_path.name
    roots = _load_roots(trust_roots) if trust_roots is not None else []
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        with pdf_path.open("rb") as handle:
            reader = PdfFileReader(handle, strict=False)
            signatures = reader.embedded_regular_signatures
            if not signatures:
                raise NotSignedError(name, "PDF carries no digital signature")
            embedded = signatures[-1]
            status = validate_pdf_signature(embedded, signer_validation_context=context)
            field_name = embedded.field_name
            count = len(signatures)
    except FileNotFoundError:
        raise BadInputError(name, "file not found") from None
    except (PdfReadError, SignatureValidationError, ValueError, KeyError) as exc:
        raise BadInputError(name, f"signature cannot be read ({exc})") from None
    subject = status.signing_cert.subject.native
    common_name = str(subject.get("common_name", "")) or status.signing_cert.subject.human_friendly
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    signing_time = status.signer_reported_dt
    if signing_time is None:
        signing_time = _pdf_signing_time(embedded)
    report = SignatureReport(
        field_name=field_name,
        signer_common_name=common_name,
        signing_time=signing_time,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        covers_whole_document=whole,
        signature_count=count,
        summary="",
    )
    return replace(report, summary=_summary(report, name))


def _pdf_signing_time(embedded: Any) -> datetime | None:
    try:
        moment = embedded.self_reported_timestamp
    except ValueError:
        return None
    return moment if isinstance(moment, datetime) else None


def _summary(report: SignatureReport, name: str) -> str:
    when = f" at {report.signing_time:%Y-%m-%d %H:%M:%S %z}" if report.signing_time else ""
    who = f"signed by {report.signer_common_name}{when}"
    if not report.intact:
        return f"{name}: INVALID, changed after it was {who}"
    if not report.valid:
        return f"{name}: INVALID signature, {who}"
    problems = []
    if not report.trusted:
        problems.append("certificate not trusted")
    if not report.covers_whole_document:
        problems.append("content was added after signing")
    if problems:
        return f"{name}: {who}; " + ", ".join(problems)
    return f"{name}: valid, {who}, covers the whole document"
