"""What the archival copy says about itself: the XMP packet and the Info dictionary.

PDF/A-2b (ISO 19005-2 6.6) wants XMP that declares the part and conformance, describes any
extension schema it uses, and agrees with the Info dictionary. The dossier's archive fields
(code, procedure, agency, digitiser) travel in sohoa's own schema, declared in the packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

import pikepdf

PDFA_PART = 2
PDFA_CONFORMANCE = "B"
ARCHIVE_NS = "http://ns.sohoa.vn/archive/1.0/"
ARCHIVE_PREFIX = "sohoa"


@dataclass(frozen=True)
class ArchiveMetadata:
    """What the archival copy says about itself (XMP and the Info dictionary)."""

    title: str
    dossier_code: str  # mã hồ sơ
    procedure: str  # thủ tục hành chính (code or name)
    agency_code: str  # mã cơ quan / đơn vị tiếp nhận
    digitiser: str  # người số hóa: the person who signs the copy
    author: str = ""  # dc:creator and /Author; the digitiser when empty
    subject: str = ""
    keywords: tuple[str, ...] = ()
    language: str = "vi"
    created_at: datetime | None = None  # when the copy was made; now when None
    creator_tool: str = "sohoa"
    producer: str = "sohoa"
    extra: tuple[tuple[str, str], ...] = ()  # more (sohoa property name, text) pairs


# --- metadata ------------------------------------------------------------------------------


def aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("archive timestamps must carry a time zone")
    return moment.replace(microsecond=0)


def xmp_date(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def pdf_date(moment: datetime) -> str:
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"D:{moment:%Y%m%d%H%M%S}{sign}{hours:02d}'{rest:02d}'"


def _archive_properties(metadata: ArchiveMetadata) -> list[tuple[str, str, str]]:
    """(property, value, description) of the sohoa namespace."""
    properties = [
        ("DossierCode", metadata.dossier_code, "Dossier code (mã hồ sơ)"),
        ("Procedure", metadata.procedure, "Administrative procedure (thủ tục hành chính)"),
        ("AgencyCode", metadata.agency_code, "Receiving agency code (mã cơ quan)"),
        ("Digitiser", metadata.digitiser, "Person who digitised and signs the copy"),
        ("Standard", "TT 01/2023/TT-VPCP", "Regulation the digitised copy follows"),
    ]
    properties += [(key, value, key) for key, value in metadata.extra]
    return properties


def build_xmp(metadata: ArchiveMetadata, created: datetime, modified: datetime) -> bytes:
    """The XMP packet: PDF/A identification, Dublin Core, xmp, pdf and sohoa properties.

    The sohoa properties are described by a PDF/A extension schema (6.6.2.3.2 requires one
    for every property outside the predefined schemas).
    """
    e = escape
    pdf_props = [f"<pdf:Producer>{e(metadata.producer)}</pdf:Producer>"]
    if metadata.keywords:
        pdf_props.append(f"<pdf:Keywords>{e(', '.join(metadata.keywords))}</pdf:Keywords>")
    properties = _archive_properties(metadata)
    archive = [
        f"<{ARCHIVE_PREFIX}:{key}>{e(value)}</{ARCHIVE_PREFIX}:{key}>"
        for key, value, _ in properties
    ]
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        + _description(
            'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"',
            [
                f"<pdfaid:part>{PDFA_PART}</pdfaid:part>",
                f"<pdfaid:conformance>{PDFA_CONFORMANCE}</pdfaid:conformance>",
            ],
        )
        + _description('xmlns:dc="http://purl.org/dc/elements/1.1/"', _dublin_core(metadata))
        + _description(
            'xmlns:xmp="http://ns.adobe.com/xap/1.0/"',
            [
                f"<xmp:CreateDate>{xmp_date(created)}</xmp:CreateDate>",
                f"<xmp:ModifyDate>{xmp_date(modified)}</xmp:ModifyDate>",
                f"<xmp:MetadataDate>{xmp_date(modified)}</xmp:MetadataDate>",
                f"<xmp:CreatorTool>{e(metadata.creator_tool)}</xmp:CreatorTool>",
            ],
        )
        + _description('xmlns:pdf="http://ns.adobe.com/pdf/1.3/"', pdf_props)
        + _description(f'xmlns:{ARCHIVE_PREFIX}="{ARCHIVE_NS}"', archive)
        + _extension_schema(properties)
        + " </rdf:RDF>\n</x:xmpmeta>\n"
        # Padding lets a later tool rewrite the packet in place (XMP spec, part 1, 7.3.2).
        + (" " * 99 + "\n") * 20
        + '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def _description(namespaces: str, body: list[str] | str) -> str:
    inner = "\n   ".join(body) if isinstance(body, list) else body
    return f'  <rdf:Description rdf:about="" {namespaces}>\n   {inner}\n  </rdf:Description>\n'


def _dublin_core(metadata: ArchiveMetadata) -> list[str]:
    e = escape
    author = metadata.author or metadata.digitiser
    dc = [
        "<dc:format>application/pdf</dc:format>",
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(metadata.title)}</rdf:li>'
        "</rdf:Alt></dc:title>",
        f"<dc:creator><rdf:Seq><rdf:li>{e(author)}</rdf:li></rdf:Seq></dc:creator>",
        f"<dc:language><rdf:Bag><rdf:li>{e(metadata.language)}</rdf:li></rdf:Bag></dc:language>",
    ]
    if metadata.subject:
        dc.append(
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(metadata.subject)}'
            "</rdf:li></rdf:Alt></dc:description>"
        )
    return dc


def _extension_schema(properties: list[tuple[str, str, str]]) -> str:
    """The PDF/A extension schema describing each sohoa property (key, value, description)."""
    described = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{key}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{escape(text)}</pdfaProperty:description>"
        "</rdf:li>"
        for key, _, text in properties
    )
    return _description(
        'xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" '
        'xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" '
        'xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#"',
        "<pdfaExtension:schemas><rdf:Bag>"
        '<rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>sohoa digitised dossier archive schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{ARCHIVE_NS}</pdfaSchema:namespaceURI>"
        f"<pdfaSchema:prefix>{ARCHIVE_PREFIX}</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{described}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas>",
    )


def set_metadata(
    pdf: pikepdf.Pdf, metadata: ArchiveMetadata, created: datetime, modified: datetime
) -> None:
    """XMP in the catalog and an Info dictionary holding exactly the same values (6.6.2.3)."""
    stream = pikepdf.Stream(pdf, build_xmp(metadata, created, modified))
    stream.Type = pikepdf.Name.Metadata
    stream.Subtype = pikepdf.Name.XML
    pdf.Root.Metadata = pdf.make_indirect(stream)
    info = pikepdf.Dictionary(
        Title=pikepdf.String(metadata.title),
        Author=pikepdf.String(metadata.author or metadata.digitiser),
        Creator=pikepdf.String(metadata.creator_tool),
        Producer=pikepdf.String(metadata.producer),
        CreationDate=pikepdf.String(pdf_date(created)),
        ModDate=pikepdf.String(pdf_date(modified)),
    )
    if metadata.subject:
        info.Subject = pikepdf.String(metadata.subject)
    if metadata.keywords:
        info.Keywords = pikepdf.String(", ".join(metadata.keywords))
    pdf.trailer.Info = pdf.make_indirect(info)
