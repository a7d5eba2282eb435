"""The page record: what the page stage read on one page, stored as JSON beside the page.

One frozen shape (:class:`PageRecord`) and one codec (:func:`encode_page_record`,
:func:`decode_page_record`) for every writer and reader: the page step writes it, the
archive stage reads it back (fields, text layer, colour verdict), the service finds a
field's line in it. It sits in the bottom layer because readers live in every layer.

The stored JSON is the format records have had since the first archive (words as
9-element arrays, to keep a page of several hundred words small), so every record already
in an archive decodes; fields added since (``warning_codes``, ``drop_page_text``,
``guard``) are optional on reading. A record is ours but is checked like any stored input:
a malformed one raises ``ValueError`` naming what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

_T = TypeVar("_T")

__all__ = [
    "Barcode",
    "GuardDecision",
    "HandwrittenNote",
    "OcrWord",
    "PageRecord",
    "PageWarning",
    "ReadingFigures",
    "RereadValue",
    "WarningCode",
    "colour_warning",
    "decode_page_record",
    "encode_page_record",
]


@dataclass(frozen=True)
class OcrWord:
    """One word as the OCR engine read it, its box in the pixels of the image it read."""

    text: str  # NFC
    left: int
    top: int
    width: int
    height: int
    confidence: float  # 0-100 as Tesseract reports it
    block: int
    paragraph: int
    line: int

    @property
    def line_key(self) -> tuple[int, int, int]:
        """Tesseract's (block, paragraph, line): the words of one line share it."""
        return (self.block, self.paragraph, self.line)


@dataclass(frozen=True)
class Barcode:
    text: str  # NFC
    format: str  # "QRCode", "DataMatrix", "Code128" ...
    # Bounding box as fractions of the page image (0..1), in the page's scanned orientation.
    left: float
    top: float
    right: float
    bottom: float

    def to_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "format": self.format,
            "box": [round(v, 4) for v in (self.left, self.top, self.right, self.bottom)],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Barcode:
        raw_box = data["box"]
        if not isinstance(raw_box, list | tuple) or len(raw_box) != 4:
            raise ValueError(f"barcode box is not four numbers: {raw_box!r}")
        box = [float(v) for v in raw_box]
        return cls(str(data["text"]), str(data["format"]), box[0], box[1], box[2], box[3])


class WarningCode(StrEnum):
    """What a page warning is about, so a later stage recognises it without its words."""

    DPI_ASSUMED = "dpi_assumed"
    DPI_ESTIMATED = "dpi_estimated"
    LOW_DPI = "low_dpi"
    COLOUR = "colour"  # not a colour scan where colour is required
    TEXT_LAYER_DROPPED = "text_layer_dropped"
    UNTOUCHED_READ = "untouched_read"
    CUT_OFF = "cut_off"  # text runs off an edge of the scan: part of the paper is missing
    OTHER = "other"  # a record written before warnings had codes


@dataclass(frozen=True)
class PageWarning:
    code: WarningCode
    text: str  # shown to people as it is


_BILEVEL = "bilevel"  # pipeline.load.ColourMode.BILEVEL


def colour_warning(mode: str) -> PageWarning:
    """The warning on a page that is not a colour scan where colour is required.

    Colour is what the law asks of a digitised copy (NĐ 30/2020 Phụ lục I): red seals and
    blue-ink signatures are what certify the paper, and grey or 1-bit scans lose them.
    """
    shown = "black and white (1-bit)" if str(mode) == _BILEVEL else str(mode)
    return PageWarning(WarningCode.COLOUR, f"scan is {shown}, colour is required for the archive")


# Records written before warnings had codes are recognised by these texts, and only there.
_LEGACY_COLOUR_TEXTS = frozenset(colour_warning(mode).text for mode in ("grey", _BILEVEL))


@dataclass(frozen=True)
class RereadValue:
    """A field's value the page step read again from the unfaded scan."""

    field: str
    text: str
    confidence: float  # mean word confidence, 0-100


@dataclass(frozen=True)
class ReadingFigures:
    """What the per-page guard knows of one reading without any truth (pipeline/guard.py)."""

    words: int
    mean_confidence: float  # of the words, 0-100
    syllable_rate: float | None  # share of valid Vietnamese syllables; None: not judged so
    score: float  # what the guard compares: more good text is higher

    def to_json(self) -> dict[str, Any]:
        return {
            "words": self.words,
            "mean_confidence": round(self.mean_confidence, 1),
            "syllable_rate": None if self.syllable_rate is None else round(self.syllable_rate, 3),
            "score": round(self.score, 1),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReadingFigures:
        rate = data.get("syllable_rate")
        return cls(
            int(data["words"]),
            float(data["mean_confidence"]),
            None if rate is None else float(rate),
            float(data["score"]),
        )


@dataclass(frozen=True)
class GuardDecision:
    """Which reading of a page was kept, and the figures the choice was made on.

    ``untouched`` is None when the untouched scan was not read (the first reading looked
    sound and cleanup faded no coloured ink), and then ``kept`` is "cleaned"."""

    kept: str  # "cleaned" or "untouched"
    reason: str  # why the untouched scan was read, or why not
    cleaned: ReadingFigures
    untouched: ReadingFigures | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "reason": self.reason,
            "cleaned": self.cleaned.to_json(),
            "untouched": None if self.untouched is None else self.untouched.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuardDecision:
        untouched = data.get("untouched")
        return cls(
            str(data["kept"]),
            str(data["reason"]),
            ReadingFigures.from_json(data["cleaned"]),
            None if untouched is None else ReadingFigures.from_json(untouched),
        )


@dataclass(frozen=True)
class HandwrittenNote:
    """An area after a field's label holding ink OCR could not read (its crop is stored
    beside the page); ``box`` is (left, top, right, bottom) as fractions of the page."""

    field: str
    box: tuple[float, float, float, float]
    suggestion: str | None = None  # a line reader's guess, never the value
    suggestion_confidence: float | None = None


@dataclass(frozen=True)
class PageRecord:
    """Everything the page stage learnt about one page of a scanned file (no pixels).

    ``image_width``/``image_height``/``dpi`` describe the image the words' boxes refer to
    (the cleaned page) and are None when no OCR ran (the PDF page carried its own text).
    """

    index: int  # the page's place in the scanned file
    text: str
    text_source: str = "ocr"  # "ocr", or "pdf" when the page carried good text of its own
    words: tuple[OcrWord, ...] = ()
    image_width: int | None = None
    image_height: int | None = None
    dpi: float | None = None
    mean_confidence: float | None = None  # of the words, before rounding for storage
    rotation: int | None = None  # clockwise degrees that made the page upright (cleaned)
    skew_deg: float | None = None
    to_cleaned: tuple[float, ...] | None = None  # 3x3 row-major, original px -> cleaned px
    dpi_source: str | None = None  # "file", "sheet", "estimated", "assumed"
    warnings: tuple[PageWarning, ...] = ()
    barcodes: tuple[Barcode, ...] = ()
    kind: str | None = None  # pipeline.classify.PageKind's value
    kind_confidence: float | None = None
    procedure_id: str | None = None
    reread: tuple[RereadValue, ...] = ()
    handwritten: tuple[HandwrittenNote, ...] = ()
    # The PDF page's own text was judged bad (someone's old OCR): the copy shows none of it.
    drop_page_text: bool = False
    # The never-worse guard's choice between the cleaned and the untouched scan's reading.
    guard: GuardDecision | None = None

    @property
    def warning_texts(self) -> tuple[str, ...]:
        return tuple(w.text for w in self.warnings)


def _word_json(w: OcrWord) -> list[object]:
    return [
        w.text, w.left, w.top, w.width, w.height, round(w.confidence, 1),
        w.block, w.paragraph, w.line,
    ]  # fmt: skip


def encode_page_record(record: PageRecord) -> bytes:
    """The record as stored: UTF-8 JSON, keys in the order records have always had."""
    data: dict[str, Any] = {"index": record.index, "text_source": record.text_source}
    if record.image_width is not None:
        data.update(
            text=record.text,
            image_width=record.image_width,
            image_height=record.image_height,
            dpi=record.dpi,
            mean_confidence=record.mean_confidence,
            words=[_word_json(w) for w in record.words],
        )
    else:
        data["text"] = record.text
    if record.rotation is not None:
        data["rotation"] = record.rotation
        data["skew_deg"] = record.skew_deg
        data["to_cleaned"] = list(record.to_cleaned or ())
    if record.dpi_source is not None:
        data["dpi_source"] = record.dpi_source
    data["warnings"] = list(record.warning_texts)
    data["barcodes"] = [b.to_json() for b in record.barcodes]
    if record.kind is not None:
        data["kind"] = record.kind
        data["kind_confidence"] = record.kind_confidence
        data["procedure_id"] = record.procedure_id
    data["reread"] = [
        {"field": r.field, "text": r.text, "confidence": r.confidence} for r in record.reread
    ]
    data["handwritten"] = [_note_json(note) for note in record.handwritten]
    data["warning_codes"] = [str(w.code) for w in record.warnings]
    if record.drop_page_text:
        data["drop_page_text"] = True
    if record.guard is not None:
        data["guard"] = record.guard.to_json()
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _note_json(note: HandwrittenNote) -> dict[str, Any]:
    item: dict[str, Any] = {"field": note.field, "box": [round(v, 5) for v in note.box]}
    if note.suggestion is not None:
        item["suggestion"] = note.suggestion
        item["suggestion_confidence"] = round(note.suggestion_confidence or 0.0, 3)
    return item


def decode_page_record(raw: bytes | str) -> PageRecord:
    """A stored record, in today's form or any earlier one; ``ValueError`` when malformed."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"page record is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("page record is not a JSON object")
    try:
        return _decode(data)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"malformed page record: {type(exc).__name__}: {exc}") from None


def _optional(value: Any, kind: Callable[[Any], _T]) -> _T | None:
    return None if value is None else kind(value)


def _decode(data: dict[str, Any]) -> PageRecord:
    words = tuple(_decode_word(w) for w in data.get("words") or ())
    texts = [str(w) for w in _list(data, "warnings")]
    codes = [str(c) for c in _list(data, "warning_codes")]
    if len(codes) == len(texts) and all(c in WarningCode.__members__.values() for c in codes):
        warnings = tuple(PageWarning(WarningCode(c), t) for c, t in zip(codes, texts, strict=True))
    else:
        warnings = tuple(
            PageWarning(WarningCode.COLOUR if t in _LEGACY_COLOUR_TEXTS else WarningCode.OTHER, t)
            for t in texts
        )
    to_cleaned = data.get("to_cleaned")
    if to_cleaned is not None and len(to_cleaned) != 9:
        raise ValueError(f"page record transform has {len(to_cleaned)} values, not 9")
    return PageRecord(
        index=int(data["index"]),
        text=str(data.get("text", "")),
        text_source=str(data.get("text_source", "ocr")),
        words=words,
        image_width=_optional(data.get("image_width"), int),
        image_height=_optional(data.get("image_height"), int),
        dpi=_optional(data.get("dpi"), float),
        mean_confidence=_optional(data.get("mean_confidence"), float),
        rotation=_optional(data.get("rotation"), int),
        skew_deg=_optional(data.get("skew_deg"), float),
        to_cleaned=None if to_cleaned is None else tuple(float(v) for v in to_cleaned),
        dpi_source=_optional(data.get("dpi_source"), str),
        warnings=warnings,
        barcodes=tuple(Barcode.from_json(b) for b in _list(data, "barcodes")),
        kind=_optional(data.get("kind"), str),
        kind_confidence=_optional(data.get("kind_confidence"), float),
        procedure_id=_optional(data.get("procedure_id"), str),
        reread=tuple(
            RereadValue(str(r["field"]), str(r["text"]), float(r["confidence"]))
            for r in _list(data, "reread")
        ),
        handwritten=tuple(
            note for item in _list(data, "handwritten") if (note := _decode_note(item))
        ),
        drop_page_text=bool(data.get("drop_page_text", False)),
        guard=None if data.get("guard") is None else GuardDecision.from_json(data["guard"]),
    )


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"page record {key!r} is not a list")
    return value


def _decode_word(word: Sequence[Any]) -> OcrWord:
    if not isinstance(word, list) or len(word) != 9:
        raise ValueError(f"page record word is not a 9-element array: {word!r}")
    text, left, top, width, height, confidence, block, paragraph, line = word
    return OcrWord(
        str(text), int(left), int(top), int(width), int(height), float(confidence),
        int(block), int(paragraph), int(line),
    )  # fmt: skip


def _decode_note(item: object) -> HandwrittenNote | None:
    """A handwritten area, or None when malformed (its field is then simply not offered)."""
    if not isinstance(item, dict):
        return None
    name = item.get("field")
    box = item.get("box")
    if not isinstance(name, str) or not isinstance(box, list) or len(box) != 4:
        return None
    suggestion = item.get("suggestion")
    confidence = item.get("suggestion_confidence")
    return HandwrittenNote(
        name,
        (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        suggestion if isinstance(suggestion, str) else None,
        float(confidence) if suggestion is not None and confidence is not None else None,
    )
