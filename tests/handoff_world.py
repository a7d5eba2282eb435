"""Archived dossiers for the handoff and push tests, made without OCR.

Each dossier is recorded through the store as the archive stage records one (a batch, the
dossier received, its signed PDF and manifest stored, ``mark_archived`` with its pages'
kinds and fields): the handoff reads exactly what it reads of a dossier that went through
the pipeline. The PDF is real (one image page per paper page) and signed with a throwaway
PKI (tests/pki.py) by the counter's signer, so papers split from it can be signed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageDraw

from config import Settings
from flows.runtime import metadata_store, object_store
from models import BatchInfo, FieldInfo, PageInfo, StoredOriginal
from storage import keys
from tests.pki import ThrowawayPki, make_pki

AGENCY = "000.00.01.H22"
SIGNER = "Trần Thị Bích Ngọc"


@dataclass(frozen=True)
class Spec:
    name: str
    procedure: str | None
    kinds: tuple[str, ...]
    dossier_code: str | None = None
    full_name: str = "Nguyễn Văn An"


WORLD = (
    Spec("gplx", "doi-gplx", ("receipt", "application_form", "id_copy", "id_copy", "other"),
         "000.00.01.H22-261201-0001"),
    Spec("lltp", "lltp", ("receipt", "application_form", "application_form", "blank", "id_copy"),
         "000.00.01.H22-261201-0002", "Lê Thị Bình"),
    Spec("unknown", None, ("other", "other"), None, "Phạm Văn Cường"),
)  # fmt: skip


def world_settings(root: Path, **overrides: object) -> tuple[Settings, ThrowawayPki]:
    pki = make_pki(root / "pki", signer_common_name=SIGNER)
    (root / "signer.pw").write_bytes(pki.password + b"\n")
    signers = root / "signers.toml"
    signers.write_text(
        f'[default]\nname = "{SIGNER}"\npkcs12 = "{pki.pkcs12}"\n'
        f'password_file = "{root / "signer.pw"}"\n',
        encoding="utf-8",
    )
    settings = Settings(
        data_dir=root / "data",
        workers=2,
        signers_file=signers,
        trust_roots=(pki.root_certificate,),
        **overrides,  # type: ignore[arg-type]
    )
    return settings, pki


def _pdf(path: Path, kinds: tuple[str, ...]) -> None:
    pages = []
    for number, kind in enumerate(kinds, start=1):
        image = Image.new("RGB", (420, 595), "white")
        ImageDraw.Draw(image).text((40, 40), f"page {number}: {kind}", fill="black")
        pages.append(image)
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=50.0)


def archive_dossier(
    settings: Settings,
    dossier_id: str,
    spec: Spec,
    *,
    agency: str = AGENCY,
    signed: bool = True,
    work: Path,
) -> str:
    """One archived dossier as the archive stage leaves it; returns its id."""
    meta, objects = metadata_store(settings), object_store(settings)
    batch_id = f"b-{dossier_id}"
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"{dossier_id}.pdf"
    _pdf(source, spec.kinds)
    original = objects.put_file(keys.original_key(dossier_id, "application/pdf"), source)
    meta.receive_upload(
        BatchInfo(batch_id, datetime.now(UTC), "vie", 1, uploaded_by="thu.ky",
                  counter_id="QN-01", agency_code=agency, procedure=spec.procedure),
        [StoredOriginal(dossier_id, 0, f"{spec.name}.pdf", original.sha256, original.size,
                        original.key, "application/pdf", len(spec.kinds))],
    )  # fmt: skip
    signature = None
    final = source
    if signed:
        from pipeline.sign import sign_pdf

        info = sign_pdf(
            source,
            work / f"{dossier_id}.signed.pdf",
            pkcs12_path=settings_pki(settings),
            pkcs12_password=(settings.signers_file.parent / "signer.pw")  # type: ignore[union-attr]
            .read_bytes()
            .strip(),
            signer_name=SIGNER,
        )
        final = info.path
        signature = {"signer_name": info.signer_name, "signed_at": info.signed_at.isoformat()}
    objects.put_file(keys.pdf_key(dossier_id), final, "application/pdf")
    objects.put_bytes(
        keys.manifest_key(dossier_id),
        json.dumps({"dossier_id": dossier_id, "signature": signature}).encode(),
        "application/json",
    )
    fields = [FieldInfo("full_name", spec.full_name, "ocr", 0.9)]
    if spec.dossier_code:
        fields.append(FieldInfo("dossier_code", spec.dossier_code, "qr", 1.0))
    pages = [
        PageInfo(index=i, width_px=420, height_px=595, dpi=50.0, kind=kind, blank=kind == "blank")
        for i, kind in enumerate(spec.kinds)
    ]
    meta.mark_archived(dossier_id, fields=fields, pages=pages)
    return dossier_id


def settings_pki(settings: Settings) -> Path:
    assert settings.signers_file is not None
    return settings.signers_file.parent / "pki" / "digitiser.p12"


def build_world(settings: Settings, work: Path, *, signed: bool = True) -> list[str]:
    return [
        archive_dossier(settings, f"d-{spec.name}", spec, signed=signed, work=work)
        for spec in WORLD
    ]
