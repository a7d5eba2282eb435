"""PDF/A-2b: turn the assembled searchable PDF into an archival copy (TT 01/2023/TT-VPCP).

What changes, with pikepdf, and what does not:

* Added: an sRGB OutputIntent (GTS_PDFA1), XMP metadata declaring PDF/A-2B and carrying
  the dossier's archive fields, an Info dictionary that says the same, a fresh /ID.
* Removed, when a copied PDF page brought them: JavaScript and other actions PDF/A forbids,
  embedded files, XFA, page transparency groups, external streams, hidden annotations.
* Never touched: the page images. Their stream data is copied as it is (JPEG stays the
  same JPEG); at most a dictionary key PDF/A forbids (/Interpolate true, /Alternates) goes,
  or a CMYK image is told which CMYK profile its numbers mean.

Fonts: the invisible OCR text uses the glyphless Type0/CIDFontType2 font of
:mod:`pipeline.textlayer`, which already embeds its TrueType program (FontFile2) with a
CIDToGIDMap onto a real, non-.notdef glyph whose advance equals /DW, so it satisfies PDF/A-2
font embedding as it is (and text in render mode 3 would be exempt anyway). Fonts of copied
PDF pages are checked: a font without an embedded program is accepted only if it is never
used to draw visible text; otherwise the file is refused (no substitute is invented).

Images in DeviceGray (grey and bilevel scans, stencil masks) need no conversion under an RGB
OutputIntent: ISO 19005-2 6.2.4.3 allows DeviceGray whenever a PDF/A OutputIntent is present,
and DeviceRGB when that intent is RGB. Only DeviceCMYK needs a profile of its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pikepdf

from models.errors import BadInputError, library_problem
from pipeline.fontsubst import embed_substitute
from pipeline.pdf_content import instructions
from pipeline.xmp import ArchiveMetadata, aware, set_metadata

SRGB_IDENTIFIER = "sRGB IEC61966-2.1"

# The sRGB profile of the OutputIntent. Ghostscript's srgb.icc (Debian libgs-common, pulled
# in by the ghostscript the Docker image installs) first: an ICC v2.1 monitor-class profile,
# the kind every PDF/A validator and viewer accepts (it is what Ghostscript's own PDF/A
# output embeds). Pillow's LittleCMS-built sRGB is the fallback when Ghostscript is absent:
# always available, but an ICC v4.4 profile, which a strict PDF/A-2 checker may question.
SRGB_ICC_CANDIDATES = (
    Path("/usr/share/color/icc/ghostscript/srgb.icc"),
    Path("/usr/share/color/icc/sRGB.icc"),
)
# For DeviceCMYK content (rare: some scanners' CMYK JPEGs): a CMYK profile to declare it.
CMYK_ICC_CANDIDATES = (
    Path("/usr/share/color/icc/ghostscript/default_cmyk.icc"),
    Path("/usr/share/color/icc/ghostscript/ps_cmyk.icc"),
)

# ISO 19005-2 6.5.1: action types a conforming file must not contain.
_FORBIDDEN_ACTIONS = {
    "/Launch",
    "/Sound",
    "/Movie",
    "/ResetForm",
    "/ImportData",
    "/Hide",
    "/SetOCGState",
    "/Rendition",
    "/Trans",
    "/GoTo3DView",
    "/JavaScript",
}
_ALLOWED_NAMED_ACTIONS = {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}
# 6.3.1: annotation types not permitted.
_FORBIDDEN_ANNOTATIONS = {"/3D", "/Sound", "/Screen", "/Movie", "/RichMedia"}
# Annotation flags (ISO 32000-1 12.5.3).
_INVISIBLE, _HIDDEN, _PRINT, _NO_ZOOM, _NO_ROTATE, _NO_VIEW, _TOGGLE_NO_VIEW = (
    1,
    2,
    4,
    8,
    16,
    32,
    256,
)


def make_pdfa(
    pdf_path: Path,
    output_path: Path,
    *,
    metadata: ArchiveMetadata,
    source_name: str | None = None,
) -> Path:
    """Write ``pdf_path`` as PDF/A-2b to ``output_path`` (may be the same path); return it.

    Raises :class:`BadInputError` for a file that cannot be made conforming without
    changing what it shows (a visible font that is not embedded and has no substitute, a
    PostScript XObject, CMYK content with no CMYK profile on this machine). Errors name
    ``source_name``, the file the user handed in, never our working copy.
    """
    name = source_name or pdf_path.name
    for key, _ in metadata.extra:
        if not key.isidentifier():
            raise ValueError(f"archive metadata key {key!r} is not an XML name")
    modified = datetime.now(UTC).astimezone().replace(microsecond=0)
    created = aware(metadata.created_at) if metadata.created_at else modified
    try:
        pdf = pikepdf.open(pdf_path)
    except pikepdf.PasswordError:
        raise BadInputError(name, "encrypted PDF: cannot be archived") from None
    except (pikepdf.PdfError, FileNotFoundError) as exc:
        raise BadInputError(
            name, f"cannot open PDF ({library_problem(exc, pdf_path, name)})"
        ) from None
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(f".{output_path.name}.pdfa.part")
    try:
        with pdf:
            if pdf.is_encrypted:
                raise BadInputError(name, "encrypted PDF: cannot be archived")
            _strip_forbidden(pdf)
            _check_objects(pdf, name)
            _declare_cmyk(pdf, name)
            substituted = _check_fonts(pdf, name)
            _set_output_intent(pdf)
            set_metadata(pdf, metadata, created, modified)
            pdf.save(
                tmp,
                # An embedded OpenType substitute font (FontFile3) is PDF 1.6.
                min_version="1.6" if substituted else "1.4",
                compress_streams=True,
                object_stream_mode=pikepdf.ObjectStreamMode.generate,
                encryption=False,
                fix_metadata_version=False,
            )
        tmp.replace(output_path)
    finally:
        tmp.unlink(missing_ok=True)
    return output_path


# --- colour ---------------------------------------------------------------------------------


def _read_icc(candidates: tuple[Path, ...], colour_space: bytes) -> bytes | None:
    for path in candidates:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) > 128 and data[36:40] == b"acsp" and data[16:20] == colour_space:
            return data
    return None


@lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes:
    """Bytes of the sRGB ICC profile used for the OutputIntent (see SRGB_ICC_CANDIDATES)."""
    data = _read_icc(SRGB_ICC_CANDIDATES, b"RGB ")
    if data is not None:
        return data
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())


@lru_cache(maxsize=1)
def cmyk_icc_profile() -> bytes | None:
    return _read_icc(CMYK_ICC_CANDIDATES, b"CMYK")


def _set_output_intent(pdf: pikepdf.Pdf) -> None:
    profile = pikepdf.Stream(pdf, zlib.compress(srgb_icc_profile(), 9))
    profile.Filter = pikepdf.Name.FlateDecode
    profile.N = 3
    profile.Alternate = pikepdf.Name.DeviceRGB
    intent = pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent,
        S=pikepdf.Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String(SRGB_IDENTIFIER),
        Info=pikepdf.String(SRGB_IDENTIFIER),
        RegistryName=pikepdf.String("http://www.color.org"),
        DestOutputProfile=pdf.make_indirect(profile),
    )
    # 6.2.3: all OutputIntents must share one profile, so ours replaces any others.
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])


def _is_cmyk(colour_space: pikepdf.Object | None) -> bool:
    if colour_space is None:
        return False
    if isinstance(colour_space, pikepdf.Name):
        return colour_space == pikepdf.Name.DeviceCMYK
    if (
        isinstance(colour_space, pikepdf.Array)
        and len(colour_space) >= 2
        and colour_space[0] == pikepdf.Name.Indexed
    ):
        return _is_cmyk(colour_space[1])
    return False


def _content_uses_cmyk(container: pikepdf.Page | pikepdf.Stream) -> bool:
    for op, operands in instructions(container, "k K cs CS"):
        if op in ("k", "K"):
            return True
        if operands and operands[0] == pikepdf.Name.DeviceCMYK:
            return True
    return False


def _declare_cmyk(pdf: pikepdf.Pdf, name: str) -> None:
    """Give DeviceCMYK content an ICC profile (6.2.4.3): the numbers themselves stay."""
    profile_ref: pikepdf.Object | None = None

    def profile() -> pikepdf.Object:
        nonlocal profile_ref
        if profile_ref is None:
            data = cmyk_icc_profile()
            if data is None:
                raise BadInputError(
                    name, "uses CMYK colour but no CMYK ICC profile is installed (ghostscript)"
                )
            stream = pikepdf.Stream(pdf, zlib.compress(data, 9))
            stream.Filter = pikepdf.Name.FlateDecode
            stream.N = 4
            stream.Alternate = pikepdf.Name.DeviceCMYK
            profile_ref = pdf.make_indirect(pikepdf.Array([pikepdf.Name.ICCBased, stream]))
        return profile_ref

    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.get("/Subtype") != pikepdf.Name.Image:
            continue
        colour = obj.get("/ColorSpace")
        if colour is None or not _is_cmyk(colour):
            continue
        if isinstance(colour, pikepdf.Name):
            obj.ColorSpace = profile()
        else:  # Indexed over DeviceCMYK
            colour[1] = profile()

    def default_cmyk(resources: pikepdf.Object) -> None:
        spaces = resources.get("/ColorSpace")
        if spaces is None:
            resources.ColorSpace = spaces = pikepdf.Dictionary()
        spaces.DefaultCMYK = profile()

    for page in pdf.pages:
        if _content_uses_cmyk(page):
            resources = page.obj.get("/Resources")
            if resources is None:
                page.obj.Resources = resources = pikepdf.Dictionary()
            default_cmyk(resources)
    for form in _form_xobjects(pdf):
        if _content_uses_cmyk(form):
            resources = form.get("/Resources")
            if resources is None:
                form.Resources = resources = pikepdf.Dictionary()
            default_cmyk(resources)


# --- what PDF/A forbids -----------------------------------------------------------------------


def _form_xobjects(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Stream]:
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Form:
            yield obj


def _forbidden_action(action: pikepdf.Object) -> bool:
    if not isinstance(action, pikepdf.Dictionary):
        return False
    kind = action.get("/S")
    if kind is None:
        return False
    if str(kind) in _FORBIDDEN_ACTIONS:
        return True
    if kind == pikepdf.Name.Named and str(action.get("/N", "")) not in _ALLOWED_NAMED_ACTIONS:
        return True
    following = action.get("/Next")
    if isinstance(following, pikepdf.Dictionary):
        return _forbidden_action(following)
    if isinstance(following, pikepdf.Array):
        return any(_forbidden_action(item) for item in following)
    return False


def _clean_annotation(annot: pikepdf.Dictionary) -> bool:
    """Make one annotation conforming; False when it has to go."""
    subtype = annot.get("/Subtype")
    if subtype is None or str(subtype) in _FORBIDDEN_ANNOTATIONS:
        return False
    if subtype == pikepdf.Name.Widget and "/A" in annot:
        del annot["/A"]  # 6.4.1: widgets carry no actions
    if "/A" in annot and _forbidden_action(annot.A):
        del annot["/A"]
    if subtype == pikepdf.Name.Popup:
        return True
    flags = int(annot.get("/F", 0))
    flags |= _PRINT
    flags &= ~(_INVISIBLE | _HIDDEN | _NO_VIEW | _TOGGLE_NO_VIEW)
    if subtype == pikepdf.Name.Text:
        flags |= _NO_ZOOM | _NO_ROTATE
    annot.F = flags
    rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
    zero_area = len(rect) != 4 or rect[0] == rect[2] or rect[1] == rect[3]
    appearance = annot.get("/AP")
    if appearance is None:
        # 6.3.3: every annotation but Popup and Link shows an appearance stream.
        return subtype == pikepdf.Name.Link or zero_area
    for key in ("/D", "/R"):
        if key in appearance:
            del appearance[key]
    return "/N" in appearance


def _strip_forbidden(pdf: pikepdf.Pdf) -> None:
    root = pdf.Root
    for key in ("/AA", "/NeedsRendering", "/Collection"):
        if key in root:
            del root[key]
    if "/OpenAction" in root and _forbidden_action(root.OpenAction):
        del root["/OpenAction"]
    names = root.get("/Names")
    if names is not None:
        for key in ("/JavaScript", "/EmbeddedFiles"):  # 6.8: only PDF/A attachments allowed
            if key in names:
                del names[key]
    form = root.get("/AcroForm")
    if form is not None:
        for key in ("/XFA", "/NeedAppearances"):
            if key in form:
                del form[key]
    properties = root.get("/OCProperties")
    if properties is not None:
        configs = [properties.get("/D"), *(properties.get("/Configs") or [])]
        for number, config in enumerate(configs):
            if isinstance(config, pikepdf.Dictionary):
                if "/AS" in config:
                    del config["/AS"]  # 6.9
                if "/Name" not in config:
                    config.Name = pikepdf.String(f"Layers {number + 1}")
    for page in pdf.pages:
        obj = page.obj
        for key in ("/AA", "/PresSteps", "/Trans"):
            if key in obj:
                del obj[key]
        group = obj.get("/Group")
        if group is not None and group.get("/S") == pikepdf.Name.Transparency:
            # A page-level group only names the blending space of the page; scans and our
            # text layer have nothing to blend (PDF/A-2b would accept it, the brief doesn't).
            del obj["/Group"]
        annots = obj.get("/Annots")
        if annots is not None:
            kept = [a for a in annots if isinstance(a, pikepdf.Dictionary) and _clean_annotation(a)]
            if kept:
                obj.Annots = pikepdf.Array(kept)
            else:
                del obj["/Annots"]
    for item in pdf.objects:
        if not isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            continue
        if "/AA" in item:
            del item["/AA"]  # form fields and annotations
        if "/A" in item and _forbidden_action(item.A):
            del item["/A"]  # outline items, fields
        if item.get("/Type") == pikepdf.Name.ExtGState:
            for key in ("/TR", "/HTP"):
                if key in item:
                    del item[key]
            if "/TR2" in item and item.TR2 != pikepdf.Name.Default:  # noqa: SIM300
                item.TR2 = pikepdf.Name.Default


def _check_objects(pdf: pikepdf.Pdf, name: str) -> None:
    """Stream-level rules: no external data, no PostScript, no LZW, no image extras."""
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        if any(key in obj for key in ("/F", "/FFilter", "/FDecodeParms")):
            # These keys on a stream dictionary mean external data (6.1.7.1).
            raise BadInputError(name, "PDF refers to stream data in an external file")
        subtype = obj.get("/Subtype")
        if subtype == pikepdf.Name.PS or "/PS" in obj or obj.get("/Subtype2") == pikepdf.Name.PS:
            raise BadInputError(name, "PDF contains PostScript XObjects, not allowed in PDF/A")
        if subtype == pikepdf.Name.Image:
            if obj.get("/Interpolate"):
                obj.Interpolate = False  # a rendering hint only (6.2.8)
            for key in ("/Alternates", "/OPI"):
                if key in obj:
                    del obj[key]
        elif subtype == pikepdf.Name.Form:
            for key in ("/Ref", "/OPI"):
                if key in obj:
                    del obj[key]
        filters = obj.get("/Filter")
        names = (
            [filters]
            if isinstance(filters, pikepdf.Name)
            else list(filters)
            if isinstance(filters, pikepdf.Array)
            else []
        )
        if pikepdf.Name.LZWDecode in names:
            # 6.1.7.2 forbids LZW. Decoding and re-compressing with Flate keeps every
            # pixel value (lossless to lossless); only streams where LZW is the whole chain.
            if len(names) != 1:
                raise BadInputError(name, "PDF has LZW-compressed data PDF/A cannot keep")
            data = obj.read_bytes()
            obj.write(zlib.compress(data, 6), filter=pikepdf.Name.FlateDecode)
            if "/DecodeParms" in obj:
                del obj["/DecodeParms"]


# --- fonts ---------------------------------------------------------------------------------


def _font_program_embedded(font: pikepdf.Object) -> bool:
    subtype = font.get("/Subtype")
    if subtype == pikepdf.Name.Type3:
        return True  # glyphs are content streams in the font itself
    if subtype == pikepdf.Name.Type0:
        descendants = font.get("/DescendantFonts")
        if not descendants:
            return False
        font = descendants[0]
    descriptor = font.get("/FontDescriptor")
    if descriptor is None:
        return False
    return any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def _visible_uses(
    container: pikepdf.Page | pikepdf.Stream,
    fonts: pikepdf.Object | None,
    missing: set[tuple[int, int]],
) -> set[str]:
    """Names of fonts in ``missing`` that ``container`` draws in a visible render mode."""
    if fonts is None:
        return set()
    found: set[str] = set()
    font: pikepdf.Object | None = None
    mode = 0
    stack: list[tuple[pikepdf.Object | None, int]] = []
    for op, operands in instructions(container, "q Q Tf Tr Tj TJ ' \""):
        if op == "q":
            stack.append((font, mode))
        elif op == "Q":
            if stack:
                font, mode = stack.pop()
        elif op == "Tf" and operands:
            font = fonts.get(str(operands[0]))
        elif op == "Tr" and operands:
            mode = int(operands[0])
        elif font is not None and mode != 3 and font.is_indirect and font.objgen in missing:
            found.add(str(font.get("/BaseFont", "unnamed font")))
    return found


def _check_fonts(pdf: pikepdf.Pdf, name: str) -> bool:
    """6.2.11.4.1: fonts used to draw must be embedded; invisible (mode 3) text is exempt.

    A standard font drawn without its program (Helvetica, Times, Arial ...) gets its
    metric-compatible URW substitute embedded (:mod:`pipeline.fontsubst`); only a visible
    font with no known substitute refuses the file.
    """
    missing: set[tuple[int, int]] = set()
    substituted = False
    for obj in pdf.objects:
        if (
            isinstance(obj, pikepdf.Dictionary)
            and obj.get("/Type") == pikepdf.Name.Font
            # CIDFonts are checked through the Type0 font that uses them.
            and obj.get("/Subtype") not in (pikepdf.Name.CIDFontType0, pikepdf.Name.CIDFontType2)
            and not _font_program_embedded(obj)
        ):
            if embed_substitute(pdf, obj):
                substituted = True
            else:
                missing.add(obj.objgen)
    if not missing:
        return substituted
    visible: set[str] = set()
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        visible |= _visible_uses(page, resources.get("/Font") if resources else None, missing)
    for form in _form_xobjects(pdf):
        resources = form.get("/Resources")
        visible |= _visible_uses(form, resources.get("/Font") if resources else None, missing)
    if visible:
        raise BadInputError(
            name, f"fonts not embedded, cannot make PDF/A: {', '.join(sorted(visible))}"
        )
    return substituted
