"""How much drawing a client's PDF page asks to be read, measured without reading it all.

Every stage that looks into a PDF page's drawing instructions (is it a plain scan, does it
draw text, which fonts and colours it uses, its old text layer dropped) parses them into
Python objects at about 300 bytes an instruction, and Flate packs them 1000 to 1: a 20 KB
page of ``q Q`` parsed to 3 GB, a 44 KB page of ``/X Do`` to 2.4 GB in ``page_draws_text``.
A page is therefore measured first, decoding no more than the limit: a scanner's page
draws a few dozen bytes, a dense typed page a few hundred KB.
"""

from __future__ import annotations

import base64
import binascii
import mmap
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pikepdf

# What one page may draw, decoded: its content streams and the forms its resources hold.
MAX_PAGE_CONTENT_BYTES = 4 << 20
# Forms looked at on one page (and inside those forms), whoever holds them.
MAX_PAGE_FORMS = 2000
# A filter this module cannot decode in bounded steps (LZW, RunLength ...) is left to qpdf
# only for a stream this small: even LZW's worst expansion stays within a few hundred MB.
MAX_RAW_OTHER_FILTER = 64 << 10


def page_content_size(pdf_page: pikepdf.Page, limit: int = MAX_PAGE_CONTENT_BYTES) -> int | None:
    """Decoded bytes of the page's content streams and of the form XObjects reachable from
    its resources (each counted once), or None when that is over ``limit`` (or the forms
    are too many): nothing past the limit is decoded."""
    streams: list[pikepdf.Object] = []
    contents = pdf_page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Array):
        streams.extend(contents)
    elif contents is not None:
        streams.append(contents)
    forms = _reachable_forms(pdf_page.obj.get("/Resources"))
    if forms is None:
        return None
    total = 0
    for stream in [*streams, *forms]:
        if not isinstance(stream, pikepdf.Stream):
            continue
        size = decoded_size(stream, limit - total)
        if size is None:
            return None
        total += size
    return total


def _reachable_forms(resources: pikepdf.Object | None) -> list[pikepdf.Stream] | None:
    found: list[pikepdf.Stream] = []
    seen: set[tuple[int, int]] = set()
    pending = [resources]
    while pending:
        current = pending.pop()
        xobjects = current.get("/XObject") if isinstance(current, pikepdf.Dictionary) else None
        if not isinstance(xobjects, pikepdf.Dictionary):
            continue
        if len(xobjects) > MAX_PAGE_FORMS:
            return None
        for _name, xobject in xobjects.items():
            if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != "/Form":
                continue
            if xobject.is_indirect:
                if xobject.objgen in seen:
                    continue
                seen.add(xobject.objgen)
            found.append(xobject)
            if len(found) > MAX_PAGE_FORMS:
                return None
            pending.append(xobject.get("/Resources"))
    return found


def instructions(
    container: pikepdf.Page | pikepdf.Object, operators: str
) -> Iterator[tuple[str, Sequence[pikepdf.Object]]]:
    """The drawing instructions of a page's or a form's content whose operator is one of
    ``operators`` (space-separated, as ``pikepdf.parse_content_stream`` takes them), as
    (operator, operands) in order. Content that does not parse draws nothing here: the
    callers judge what a page draws, and a damaged stream is not theirs to refuse."""
    try:
        parsed = pikepdf.parse_content_stream(container, operators)
    except pikepdf.PdfError:
        return
    for instruction in parsed:
        yield str(instruction.operator), list(instruction.operands)


def decoded_size(stream: pikepdf.Stream, limit: int) -> int | None:
    """The stream's decoded length, or None when it is over ``limit`` or cannot be known
    without decoding an unbounded amount."""
    if limit < 0:
        return None
    raw = bytes(stream.read_raw_bytes())
    filters = stream.get("/Filter")
    chain = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else []
    if isinstance(filters, pikepdf.Name):
        chain = [str(filters)]
    data = raw
    # Text encodings only shrink: decoded here from the raw bytes, whatever their length.
    while chain and chain[0] in ("/ASCIIHexDecode", "/ASCII85Decode"):
        decoded = _ascii_decoded(chain.pop(0), data)
        if decoded is None:
            return len(raw) if len(raw) <= limit else None  # broken: qpdf will say so
        data = decoded
    if not chain:
        return len(data) if len(data) <= limit else None
    if chain == ["/FlateDecode"] and "/DecodeParms" not in stream:
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            return len(raw) if len(raw) <= limit else None  # broken: qpdf will say so
        return len(out) if len(out) <= limit else None
    if len(raw) > MAX_RAW_OTHER_FILTER:
        return None
    try:
        size = len(stream.read_bytes())
    except pikepdf.PdfError:
        return 0  # not decodable: nothing of it gets parsed either
    return size if size <= limit else None


def _ascii_decoded(name: str, data: bytes) -> bytes | None:
    try:
        if name == "/ASCIIHexDecode":
            text = bytes(b for b in data.split(b">", 1)[0] if not chr(b).isspace())
            return binascii.unhexlify(text + b"0" * (len(text) % 2))
        body = data.strip()
        body = body[2:] if body.startswith(b"<~") else body
        return base64.a85decode(body.split(b"~>", 1)[0], ignorechars=b" \t\n\r\x0b\x0c")
    except (ValueError, binascii.Error):
        return None


# Characters that end a PDF name (white space and delimiters, PDF 32000-1, 7.2.2).
_END = rb"\x00\t\n\x0c\r /<>\[\]()%{}"
# White space and comments between tokens, atomic: a comment runs to its line's end (PDF
# 32000-1, 7.2.3), so there is one way to read a gap. Without that, "%" repeated could be
# one comment or many, and "/Filter" then 22 of them took 0.3 s, each 2 more four times as
# long (an upload is searched with this before anything else looks at it).
_GAP = rb"(?>(?:[\x00\t\n\x0c\r ]|%[^\r\n]*+)*)"
# What the file's bytes are searched for (three searches: an alternation of them defeats
# the regex engine's fast scan, 350 ms against 15 ms on a 5 MB scan):
# the name LZWDecode (or LZW) written plainly;
_PLAIN_LZW = re.compile(rb"/LZW(?:Decode)?(?![^" + _END + rb"])")
# a name written with #xx escapes (decoded, then looked at);
_ESCAPED_NAME = re.compile(rb"/[^" + _END + rb"#]*#[0-9A-Fa-f]{2}[^" + _END + rb"]*")
# "/Filter" then an indirect reference, alone or in an array: the filter's name lives in
# another object, possibly inside a compressed object stream where no search can see it.
_NAMES = rb"(?:/[^" + _END + rb"]*" + _GAP + rb")*"
_FILTER_REFERENCE = re.compile(
    rb"/Filter"
    + _GAP
    + rb"(?:\["
    + _GAP
    + _NAMES
    + rb")?"
    # Object and generation numbers, each run taken whole: "\d+ gap \d+" with an empty gap
    # split one long run of digits every possible way (40,000 digits 22 s). A run of two or
    # more digits straight before "R" is still taken as a reference, as it was.
    + rb"(?:\d++"
    + _GAP
    + rb"\d++|\d{2,}+)"
    + _GAP
    + rb"R(?![^"
    + _END
    + rb"])"
)
_LZW_NAMES = frozenset({b"LZWDecode", b"LZW"})


def _unescaped(name: bytes) -> bytes:
    """A name token's characters, its #xx escapes decoded (``/LZ#57Decode`` is LZWDecode)."""
    return re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), name[1:])


def lzw_filter_named(path: Path) -> str | None:
    """Why qpdf must not open this file, or None: a stream compressed with LZW in it.

    qpdf bounds what it inflates for Flate and RunLength (pipeline/load.py sets the limit),
    not for LZW, and it inflates an object stream whole to parse it: 265 KB of LZW object
    stream became 457 MB and 4 s, and LZW expands up to about 2700 to 1, so an upload
    within the size limit could take more memory than the machine has. A stream's
    dictionary is never compressed, so its filter stands plain in the file's bytes, unless
    the file hides it (a reference to another object, or #xx escapes in the names that
    matter): that is refused too, as no writer does it. Writers use Flate since the 1990s.
    """
    if path.stat().st_size == 0:
        return None
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if _PLAIN_LZW.search(data):
            return "compressed with LZW, which sohoa does not read"
        if _FILTER_REFERENCE.search(data):
            return "names its compression in another object"
        for match in _ESCAPED_NAME.finditer(data):
            name = _unescaped(match.group())
            if name in _LZW_NAMES:
                return "compressed with LZW, which sohoa does not read"
            if name == b"Filter":
                return "names its compression in escaped characters"
    return None
