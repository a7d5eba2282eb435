"""An archived dossier as an E-ARK CSIP information package (issue 27).

Pure: it reads the local copies a ``DossierPackage`` names and writes a folder, nothing else.
The layout (CSIP 2.1; for Luật Lưu trữ 33/2024/QH15 and TT 05/2025/TT-BNV)::

    <package>/METS.xml                          package METS: OBJID = urn:uuid:…
    <package>/metadata/descriptive/dc.xml       Dublin Core: code, procedure, agency, owner
    <package>/metadata/preservation/premis.xml  PREMIS 3: files with SHA-256, events, agents
    <package>/documentation/README.txt          what the package is, for a person
    <package>/schemas/mets.xsd, xlink.xsd       the METS schemas (PREMIS and DC: not bundled)
    <package>/representations/rep1/METS.xml     representation METS: the files below
    <package>/representations/rep1/data/…       originals (every submission) + signed PDF/A
    <package>/representations/rep1/metadata/preservation/premis.xml

Every file is referenced with its size, creation time (+07:00) and SHA-256; ``check_package``
re-reads them all (the E-ARK validator checks the structure and the METS, not the bytes).

The package type is AIP: the dossier as sohoa archived it, signed. (A SIP cannot pass
eark-validator 1.1.3: its SIP rules want every CREATOR agent to be an ORGANIZATION or
INDIVIDUAL with an IDENTIFICATIONCODE note, its CSIP rules a CREATOR agent that is software
with a SOFTWARE VERSION note.)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from lxml import etree

from models.package import DossierPackage, PackageAgent, PackageEvent, PackageFile

VIETNAM = timezone(timedelta(hours=7), "ICT")
REP = "rep1"
METS_NS = "http://www.loc.gov/METS/"
XLINK_NS = "http://www.w3.org/1999/xlink"
CSIP_NS = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
SIP_NS = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREMIS_NS = "http://www.loc.gov/premis/v3"
DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
CSIP_PROFILE = "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"
EVENT_TYPES = "http://id.loc.gov/vocabulary/preservation/eventType"
CONTENT_TYPE = "sohoa administrative dossier (hồ sơ thủ tục hành chính) v1"
SHA256 = "SHA-256"
SCHEMAS = Path(__file__).with_name("eark_schemas")
SCHEMA_FILES = ("mets.xsd", "xlink.xsd")
# csip:CONTENTINFORMATIONTYPE on every file group: the 1.1.3 rule CSIP63 fails a group
# without it (its test cannot pass when the attribute is absent).
GROUP_TYPE = {
    f"{{{CSIP_NS}}}CONTENTINFORMATIONTYPE": "OTHER",
    f"{{{CSIP_NS}}}OTHERCONTENTINFORMATIONTYPE": CONTENT_TYPE,
}


class PackageError(Exception):
    """A file does not match what the package says of it (or cannot be written)."""


def vn_time(moment: datetime) -> str:
    """xsd:dateTime in Vietnam time, to the second: 2025-03-01T09:30:00+07:00."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(VIETNAM).isoformat(timespec="seconds")


def package_folder_name(package: DossierPackage) -> str:
    """The package's folder: its uuid (``urn:uuid:`` dropped: no colons in file names)."""
    return package.package_id.removeprefix("urn:uuid:")


@dataclass(frozen=True)
class _Ref:
    """A file written into the package: where, and what METS says of it."""

    href: str  # relative to the METS that references it
    mime: str
    size: int
    sha256: str
    created: datetime


def _xml_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def _write_xml(root: etree._Element, path: Path, created: datetime) -> _Ref:
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return _Ref(path.name, "text/xml", len(data), hashlib.sha256(data).hexdigest().upper(), created)


def _copy_checked(item: PackageFile, target: Path) -> None:
    """Copy the file, hashing it as it goes: bytes that are not ``item.sha256`` are refused."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with item.path.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    if digest.hexdigest() != item.sha256.lower() or size != item.size:
        raise PackageError(
            f"{item.name}: the copy is not the archived file "
            f"(SHA-256 {digest.hexdigest()}, {size} bytes; expected {item.sha256}, {item.size})"
        )


# --- METS ---------------------------------------------------------------------------------


def _m(tag: str) -> str:
    return f"{{{METS_NS}}}{tag}"


def _mets_root(
    package: DossierPackage, objid: str, label: str, created: datetime
) -> etree._Element:
    root = etree.Element(
        _m("mets"),
        nsmap={"mets": METS_NS, "xlink": XLINK_NS, "csip": CSIP_NS, "sip": SIP_NS, "xsi": XSI_NS},
    )
    root.set("OBJID", objid)
    root.set("LABEL", label)
    root.set("TYPE", "Other")
    root.set(f"{{{CSIP_NS}}}OTHERTYPE", "Administrative procedure dossier")
    root.set(f"{{{CSIP_NS}}}CONTENTINFORMATIONTYPE", "OTHER")
    root.set(f"{{{CSIP_NS}}}OTHERCONTENTINFORMATIONTYPE", CONTENT_TYPE)
    root.set("PROFILE", CSIP_PROFILE)
    header = etree.SubElement(root, _m("metsHdr"))
    header.set("CREATEDATE", vn_time(created))
    header.set("LASTMODDATE", vn_time(created))
    header.set("RECORDSTATUS", "NEW")
    header.set(f"{{{CSIP_NS}}}OAISPACKAGETYPE", "AIP")
    agent = etree.SubElement(header, _m("agent"), ROLE="CREATOR", TYPE="OTHER")
    agent.set("OTHERTYPE", "SOFTWARE")
    etree.SubElement(agent, _m("name")).text = package.software
    note = etree.SubElement(agent, _m("note"))
    note.text = package.software_version
    note.set(f"{{{CSIP_NS}}}NOTETYPE", "SOFTWARE VERSION")
    return root


def _locate(element: etree._Element, href: str) -> None:
    element.set("LOCTYPE", "URL")
    element.set(f"{{{XLINK_NS}}}type", "simple")
    element.set(f"{{{XLINK_NS}}}href", href)


def _describe(element: etree._Element, ref: _Ref) -> None:
    element.set("MIMETYPE", ref.mime)
    element.set("SIZE", str(ref.size))
    element.set("CREATED", vn_time(ref.created))
    element.set("CHECKSUM", ref.sha256.upper())
    element.set("CHECKSUMTYPE", SHA256)


def _md_ref(parent: etree._Element, ref: _Ref, mdtype: str) -> None:
    md = etree.SubElement(parent, _m("mdRef"))
    _locate(md, ref.href)
    md.set("MDTYPE", mdtype)
    _describe(md, ref)


def _file_grp(parent: etree._Element, use: str, refs: Iterable[_Ref]) -> str:
    group = etree.SubElement(parent, _m("fileGrp"), ID=_xml_id("fileGrp"), USE=use)
    for name, value in GROUP_TYPE.items():
        group.set(name, value)
    for ref in refs:
        file = etree.SubElement(group, _m("file"), ID=_xml_id("file"))
        _describe(file, ref)
        _locate(etree.SubElement(file, _m("FLocat")), ref.href)
    return str(group.get("ID"))


def _metadata_sections(
    root: etree._Element, dmd: list[_Ref], premis: list[_Ref], created: datetime
) -> tuple[list[str], list[str]]:
    dmd_ids = []
    for ref in dmd:
        section = etree.SubElement(root, _m("dmdSec"), ID=_xml_id("dmd"))
        section.set("CREATED", vn_time(created))
        section.set("STATUS", "CURRENT")
        _md_ref(section, ref, "DC")
        dmd_ids.append(str(section.get("ID")))
    amd_ids = []
    if premis:
        amd = etree.SubElement(root, _m("amdSec"))
        for ref in premis:
            section = etree.SubElement(amd, _m("digiprovMD"), ID=_xml_id("digiprov"))
            section.set("STATUS", "CURRENT")
            _md_ref(section, ref, "PREMIS")
            amd_ids.append(str(section.get("ID")))
    return dmd_ids, amd_ids


def _struct_map(
    root: etree._Element,
    label: str,
    dmd_ids: list[str],
    amd_ids: list[str],
    groups: list[tuple[str, str]],  # (division label, fileGrp id)
    representations: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
) -> None:
    smap = etree.SubElement(root, _m("structMap"), ID=_xml_id("structMap"))
    smap.set("TYPE", "PHYSICAL")
    smap.set("LABEL", "CSIP")
    top = etree.SubElement(smap, _m("div"), ID=_xml_id("div"), LABEL=label)
    metadata = etree.SubElement(top, _m("div"), ID=_xml_id("div"), LABEL="Metadata")
    if amd_ids:
        metadata.set("ADMID", " ".join(amd_ids))
    if dmd_ids:
        metadata.set("DMDID", " ".join(dmd_ids))
    for division, group_id in groups:
        div = etree.SubElement(top, _m("div"), ID=_xml_id("div"), LABEL=division)
        etree.SubElement(div, _m("fptr"), FILEID=group_id)
    if representations:
        # One "Representations" division pointing at their file groups, and in it one
        # division per representation with the pointer to its METS.
        holder = etree.SubElement(top, _m("div"), ID=_xml_id("div"), LABEL="Representations")
        for _, group_id, _ in representations:
            etree.SubElement(holder, _m("fptr"), FILEID=group_id)
        for division, group_id, href in representations:
            div = etree.SubElement(holder, _m("div"), ID=_xml_id("div"), LABEL=division)
            mptr = etree.SubElement(div, _m("mptr"))
            _locate(mptr, href)
            mptr.set(f"{{{XLINK_NS}}}title", group_id)


# --- Dublin Core ----------------------------------------------------------------------------


def _dublin_core(package: DossierPackage) -> etree._Element:
    """What the archive's finding aid needs, and no more of the citizen than their name."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS})

    def add(tag: str, value: str | None) -> None:
        if value:
            etree.SubElement(root, f"{{{DC_NS}}}{tag}").text = value

    add("title", package.title)
    add("identifier", package.dossier_code)
    add("identifier", package.package_id)
    add("identifier", f"sohoa:{package.dossier_id}")
    if package.procedure:
        add("subject", package.procedure)
    add("subject", package.procedure_name)
    add("description", f"Thủ tục: {package.procedure_name}" if package.procedure_name else None)
    add("creator", package.owner_name)  # chủ hồ sơ: the person who handed the dossier in
    add("publisher", package.agency_code)  # the agency the dossier is addressed to
    add("date", vn_time(package.received_at))
    add("type", "Text")
    add("format", f"{package.page_count} page(s); PDF/A-2b with the scans")
    add("language", "vi")
    add(
        "rights",
        "Contains personal data (Nghị định 13/2023/NĐ-CP): access as the archive's rules allow",
    )
    return root


# --- PREMIS ---------------------------------------------------------------------------------


def _p(tag: str) -> str:
    return f"{{{PREMIS_NS}}}{tag}"


def _ident(parent: etree._Element, tag: str, kind: str, value: str) -> etree._Element:
    ident = etree.SubElement(parent, _p(tag))
    etree.SubElement(ident, _p(f"{tag}Type")).text = kind
    etree.SubElement(ident, _p(f"{tag}Value")).text = value
    return ident


def _premis(
    package: DossierPackage,
    files: list[tuple[str, PackageFile]],  # (identifier in this PREMIS, file)
    events: list[tuple[str, PackageEvent]],
    agents: Iterable[PackageAgent],
) -> etree._Element:
    root = etree.Element(_p("premis"), nsmap={"premis": PREMIS_NS, "xsi": XSI_NS})
    root.set("version", "3.0")
    name_to_id = {item.name: ident for ident, item in files}
    events_of: dict[str, list[str]] = {}
    for event_id, event in events:
        for name in event.files:
            events_of.setdefault(name, []).append(event_id)
    for ident, item in files:
        obj = etree.SubElement(root, _p("object"))
        obj.set(f"{{{XSI_NS}}}type", "premis:file")
        _ident(obj, "objectIdentifier", "local", ident)
        chars = etree.SubElement(obj, _p("objectCharacteristics"))
        etree.SubElement(chars, _p("compositionLevel")).text = "0"
        fixity = etree.SubElement(chars, _p("fixity"))
        etree.SubElement(fixity, _p("messageDigestAlgorithm")).text = SHA256
        etree.SubElement(fixity, _p("messageDigest")).text = item.sha256.lower()
        etree.SubElement(fixity, _p("messageDigestOriginator")).text = package.software
        etree.SubElement(chars, _p("size")).text = str(item.size)
        designation = etree.SubElement(
            etree.SubElement(chars, _p("format")), _p("formatDesignation")
        )
        etree.SubElement(designation, _p("formatName")).text = item.mime
        for event_id in events_of.get(item.name, []):
            _ident(obj, "linkingEventIdentifier", "local", event_id)
    for event_id, event in events:
        node = etree.SubElement(root, _p("event"))
        _ident(node, "eventIdentifier", "local", event_id)
        kind = etree.SubElement(node, _p("eventType"))
        kind.text = event.kind
        kind.set("authority", "eventType")
        kind.set("authorityURI", EVENT_TYPES)
        etree.SubElement(node, _p("eventDateTime")).text = vn_time(event.at)
        detail = etree.SubElement(node, _p("eventDetailInformation"))
        etree.SubElement(detail, _p("eventDetail")).text = event.detail
        outcome = etree.SubElement(node, _p("eventOutcomeInformation"))
        etree.SubElement(outcome, _p("eventOutcome")).text = event.outcome
        for agent_key, role in event.agents:
            link = _ident(node, "linkingAgentIdentifier", "local", agent_key)
            etree.SubElement(link, _p("linkingAgentRole")).text = role
        for name in event.files:
            if name in name_to_id:
                _ident(node, "linkingObjectIdentifier", "local", name_to_id[name])
    for agent in agents:
        node = etree.SubElement(root, _p("agent"))
        _ident(node, "agentIdentifier", "local", agent.key)
        etree.SubElement(node, _p("agentName")).text = agent.name
        etree.SubElement(node, _p("agentType")).text = agent.kind
        if agent.note:
            etree.SubElement(node, _p("agentNote")).text = agent.note
    return root


# --- the package ----------------------------------------------------------------------------


def _readme(package: DossierPackage) -> str:
    lines = [
        f"E-ARK CSIP information package {package.package_id}",
        f"Dossier {package.dossier_code or '(no code)'} (sohoa id {package.dossier_id}),",
        f"archived {vn_time(package.archived_at)}, {package.page_count} page(s).",
        "",
        "representations/rep1/data/: the files the dossier was handed in as (every submission",
        "when it was rescanned) and the digitiser's signed PDF/A copy.",
        "metadata/descriptive/dc.xml: Dublin Core; metadata/preservation/premis.xml: PREMIS 3",
        "(every file with its SHA-256, the dossier's events, the people and software involved).",
    ]
    if package.signature is not None:
        lines.append(
            f"Signed by {package.signature.signer_name} at {vn_time(package.signature.signed_at)}"
            f" (certificate SHA-256 {package.signature.certificate_sha256})."
        )
    return "\n".join(lines) + "\n"


def write_package(package: DossierPackage, parent: Path) -> Path:
    """Write the package into ``parent/<uuid>/`` and return that folder.

    It is written beside its place and renamed into it when whole; a package already there
    (the same dossier, archived at the same time) is replaced.
    """
    final = parent / package_folder_name(package)
    work = parent / f".{final.name}.partial"
    if work.exists():
        shutil.rmtree(work)
    try:
        _write(package, work)
        if final.exists():
            if not (final / "METS.xml").is_file():
                raise PackageError(f"{final} exists and is not a package: not replaced")
            shutil.rmtree(final)
        os.replace(work, final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final


def _write(package: DossierPackage, root: Path) -> None:
    created = package.archived_at
    now = datetime.now(VIETNAM)
    rep = root / "representations" / REP
    # 1. the data, copied and checked
    data_refs: list[_Ref] = []
    for item in package.files:
        if "/" in item.name or item.name.startswith("."):
            raise PackageError(f"{item.name!r}: not a plain file name")
        _copy_checked(item, rep / "data" / item.name)
        data_refs.append(_Ref(f"data/{item.name}", item.mime, item.size, item.sha256, item.created))
    # 2. PREMIS: the representation's files and their history; the package's own creation
    event_ids = [(f"event-{n}", event) for n, event in enumerate(package.events, start=1)]
    rep_files = [(f"representations/{REP}/data/{f.name}", f) for f in package.files]
    rep_premis = _write_xml(
        _premis(package, rep_files, event_ids, package.agents),
        rep / "metadata" / "preservation" / "premis.xml",
        created,
    )
    rep_premis = _Ref(f"metadata/preservation/{rep_premis.href}", *_tail(rep_premis))
    # 3. the representation's METS
    rep_mets = _mets_root(package, f"{package.package_id}/{REP}", f"{package.title} ({REP})", now)
    _, rep_amd = _metadata_sections(rep_mets, [], [rep_premis], created)
    file_sec = etree.SubElement(rep_mets, _m("fileSec"), ID=_xml_id("fileSec"))
    data_group = _file_grp(file_sec, "Data", data_refs)
    _struct_map(rep_mets, REP, [], rep_amd, [("Data", data_group)])
    rep_mets_ref = _write_xml(rep_mets, rep / "METS.xml", now)
    # 4. the package's metadata and documentation
    dc = _write_xml(_dublin_core(package), root / "metadata" / "descriptive" / "dc.xml", created)
    dc = _Ref(f"metadata/descriptive/{dc.href}", *_tail(dc))
    creation = PackageEvent(
        kind="information package creation",
        at=now,
        detail=f"E-ARK CSIP package {package.package_id} written by sohoa export",
        agents=(("sohoa", "executing program"),),
        files=tuple(f.name for f in package.files),
    )
    pkg_events = [*event_ids, (f"event-{len(event_ids) + 1}", creation)]
    premis = _write_xml(
        _premis(package, rep_files, pkg_events, package.agents),
        root / "metadata" / "preservation" / "premis.xml",
        created,
    )
    premis = _Ref(f"metadata/preservation/{premis.href}", *_tail(premis))
    readme_ref = _write_bytes(
        root, "documentation/README.txt", _readme(package).encode("utf-8"), "text/plain", now
    )
    schema_refs = [
        _write_bytes(root, f"schemas/{name}", (SCHEMAS / name).read_bytes(), "text/xml", now)
        for name in SCHEMA_FILES
    ]
    # 5. the package METS
    mets = _mets_root(package, package.package_id, package.title, now)
    dmd_ids, amd_ids = _metadata_sections(mets, [dc], [premis], created)
    file_sec = etree.SubElement(mets, _m("fileSec"), ID=_xml_id("fileSec"))
    doc_group = _file_grp(file_sec, "Documentation", [readme_ref])
    schema_group = _file_grp(file_sec, "Schemas", schema_refs)
    rep_href = f"representations/{REP}/METS.xml"
    rep_group = _file_grp(
        file_sec, f"Representations/{REP}", [_Ref(rep_href, *_tail(rep_mets_ref))]
    )
    _struct_map(
        mets,
        package.package_id,
        dmd_ids,
        amd_ids,
        [("Documentation", doc_group), ("Schemas", schema_group)],
        [(f"Representations/{REP}", rep_group, rep_href)],
    )
    _write_xml(mets, root / "METS.xml", now)


def _write_bytes(root: Path, href: str, data: bytes, mime: str, created: datetime) -> _Ref:
    path = root / href
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return _Ref(href, mime, len(data), hashlib.sha256(data).hexdigest().upper(), created)


def _tail(ref: _Ref) -> tuple[str, int, str, datetime]:
    return ref.mime, ref.size, ref.sha256, ref.created


# --- checking a package ---------------------------------------------------------------------


def check_package(root: Path) -> list[str]:
    """Every file the package's METS documents reference, re-read: missing files, sizes and
    SHA-256 that differ, and files no METS references. Empty: the package is whole."""
    problems: list[str] = []
    referenced: set[Path] = {root / "METS.xml"}
    pending = [root / "METS.xml"]
    while pending:
        mets = pending.pop()
        try:
            tree = etree.parse(str(mets))
        except (OSError, etree.XMLSyntaxError) as exc:
            problems.append(f"{mets.relative_to(root)}: unreadable ({exc})")
            continue
        for element in tree.iter(_m("file"), _m("mdRef")):
            locator = element.find(_m("FLocat")) if element.tag == _m("file") else element
            href = locator.get(f"{{{XLINK_NS}}}href") if locator is not None else None
            if not href:
                problems.append(f"{mets.relative_to(root)}: a file without a location")
                continue
            path = (mets.parent / href).resolve()
            try:
                path.relative_to(root.resolve())
            except ValueError:
                problems.append(f"{href}: outside the package")
                continue
            referenced.add(path)
            problems += _check_file(root, path, element)
            if path.name == "METS.xml" and path != mets:
                pending.append(path)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() not in {r.resolve() for r in referenced}:
            problems.append(f"{path.relative_to(root)}: in the package but in no METS")
    return problems


def _check_file(root: Path, path: Path, element: etree._Element) -> list[str]:
    name = str(path.relative_to(root.resolve()))
    if not path.is_file():
        return [f"{name}: missing"]
    if element.get("CHECKSUMTYPE") != SHA256:
        return [f"{name}: checksum type {element.get('CHECKSUMTYPE')!r}, not SHA-256"]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    problems = []
    if str(path.stat().st_size) != element.get("SIZE"):
        problems.append(f"{name}: {path.stat().st_size} bytes, METS says {element.get('SIZE')}")
    if digest.hexdigest().upper() != (element.get("CHECKSUM") or "").upper():
        problems.append(f"{name}: SHA-256 {digest.hexdigest()} differs from its METS entry")
    return problems
