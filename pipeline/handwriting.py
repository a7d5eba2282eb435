"""Handwritten values on printed forms: find the ink OCR could not read, keep its crop.

Citizens fill in application forms by hand (name, birth date, ID number, phone in blue or
black ink after the printed labels). Tesseract cannot read handwriting and no engine whose
weights we can ship does yet, so such a field must go to a person together with the image of
exactly that area. ``find_handwritten_areas`` looks, for each label OCR found on the page, at
the stretch of line after it (up to the next label or the line's end): when that stretch holds
ink but no word OCR read with confidence, it is a handwritten value and its crop is returned.

``CropReader`` is the seam for a line reader that can read such a crop (issue 19 builds a
neural one). Its reading is only ever a *suggestion* shown beside the crop: a guess about a
citizen's handwriting must be confirmed by the person keying it in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from models.pagerecord import HandwrittenNote, OcrWord
from models.textfold import fold
from pipeline.validate import (
    normalise_id_number,
    normalise_phone,
    parse_date,
    proper_case_name,
)
from pipeline.vietnamese import load_syllables, text_quality

__all__ = [
    "CropReader",
    "CropReading",
    "HandwrittenArea",
    "find_handwritten_areas",
    "ink_fraction",
]

# A word OCR read with less confidence than this (0-100) is not a reading of the area.
MIN_WORD_CONFIDENCE = 60.0
# Share of the area's pixels that must be ink for it to hold something written; a dotted
# guide line ("........") printed after a label stays well under it once dots are removed.
MIN_INK_FRACTION = 0.004


@dataclass(frozen=True)
class CropReading:
    text: str
    confidence: float  # 0..1


class CropReader(Protocol):
    """Reads one line of (hand)writing from an image crop (BGR or grey, as cut from the page)."""

    def read_crop(self, crop: np.ndarray) -> CropReading | None: ...


@dataclass(frozen=True, eq=False)
class HandwrittenArea:
    """The area after a field's label that holds ink OCR could not read.

    ``box`` is (left, top, right, bottom) as fractions of the page; ``crop`` the pixels when
    the caller has them (the page step, or a flow that fetched ``crop_key`` again).
    """

    field: str
    box: tuple[float, float, float, float]
    crop_key: str | None = None
    crop: np.ndarray | None = dataclasses.field(default=None, repr=False)
    # What a reader made of the crop where the pixels were (the page step): a suggestion.
    suggestion: CropReading | None = None

    def to_note(self) -> HandwrittenNote:
        """The area as the page record keeps it: field, box and the reader's suggestion."""
        reading = self.suggestion
        return HandwrittenNote(
            self.field,
            self.box,
            reading.text if reading is not None else None,
            reading.confidence if reading is not None else None,
        )

    @classmethod
    def from_note(cls, note: HandwrittenNote, crop_key: str) -> HandwrittenArea | None:
        """An area read back from a page record (None if its field is no field name), its
        crop at ``crop_key``. The record is ours, but is checked like any stored input."""
        if not re.fullmatch(r"[a-z_]{1,64}", note.field):
            return None
        suggestion = None
        if note.suggestion is not None and note.suggestion.strip():
            suggestion = CropReading(note.suggestion, note.suggestion_confidence or 0.0)
        return cls(note.field, note.box, crop_key, suggestion=suggestion)


@dataclass(frozen=True)
class _Word:
    text: str
    left: int
    top: int
    right: int
    bottom: int
    confidence: float
    line: tuple[int, int, int]


def _words(ocr_words: Sequence[OcrWord]) -> list[_Word]:
    return [
        _Word(
            w.text,
            w.left,
            w.top,
            w.left + w.width,
            w.top + w.height,
            w.confidence,
            (w.block, w.paragraph, w.line),
        )
        for w in ocr_words
    ]


def ink_fraction(crop: np.ndarray) -> float:
    """Share of ``crop`` that is ink: dark, or clearly coloured (blue or black pen)."""
    if crop.size == 0:
        return 0.0
    if crop.ndim == 3:
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
        coloured = (hsv[..., 1] > 80) & (hsv[..., 2] < 220)
    else:
        grey = crop
        coloured = np.zeros(crop.shape, dtype=bool)
    dark = grey < 110
    ink = (dark | coloured).astype(np.uint8)
    # Dotted guide lines and scanner specks are small; a pen stroke is long and connected.
    opened = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(opened)
    big = sum(int(stats[i, cv2.CC_STAT_AREA]) for i in range(1, count) if stats[i, 4] >= 12)
    return big / float(crop.shape[0] * crop.shape[1])


def _same_line(a: _Word, b: _Word) -> bool:
    """Side by side on one printed line: Tesseract may put them in different blocks (two
    columns of labels), so their vertical overlap decides, not its line numbers."""
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap > 0.5 * min(a.bottom - a.top, b.bottom - b.top)


def _label_token_runs(
    words: list[_Word], labels: Mapping[str, Sequence[str]]
) -> list[tuple[str, list[_Word]]]:
    """(field, the words that spell its label) for every label found on a line."""
    by_line: dict[tuple[int, int, int], list[_Word]] = {}
    for word in words:
        by_line.setdefault(word.line, []).append(word)
    spelled = sorted(
        ((name, re.sub(r"[^a-z0-9/ ]", "", fold(label)).split())
         for name, options in labels.items() for label in options),
        key=lambda item: -len(item[1]),
    )  # fmt: skip
    found: list[tuple[str, list[_Word]]] = []
    for line_words in by_line.values():
        line_words.sort(key=lambda w: w.left)
        folded = [re.sub(r"[^a-z0-9/]", "", fold(w.text)) for w in line_words]
        claimed: set[int] = set()
        for name, tokens in spelled:
            if not tokens:
                continue
            for start in range(len(line_words) - len(tokens) + 1):
                span = range(start, start + len(tokens))
                if any(i in claimed for i in span):
                    continue
                if all(folded[i] == tokens[k] for k, i in enumerate(span)):
                    claimed.update(span)
                    found.append((name, [line_words[i] for i in span]))
                    break
    return found


def _to_image_box(
    box: tuple[int, int, int, int], to_image: np.ndarray | None, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """A box in the OCR image's pixels as a box in ``image``'s (bounding box of its corners)."""
    left, top, right, bottom = box
    if to_image is not None:
        corners = np.array(
            [[left, top, 1], [right, top, 1], [left, bottom, 1], [right, bottom, 1]], float
        )
        mapped = corners @ to_image.T
        xs, ys = mapped[:, 0] / mapped[:, 2], mapped[:, 1] / mapped[:, 2]
        left, right = int(xs.min()), int(np.ceil(xs.max()))
        top, bottom = int(ys.min()), int(np.ceil(ys.max()))
    height, width = shape[:2]
    return max(0, left), max(0, top), min(width, right), min(height, bottom)


def find_handwritten_areas(
    image: np.ndarray,
    ocr_words: Sequence[OcrWord],
    ocr_size: tuple[int, int],
    labels: Mapping[str, Sequence[str]],
    *,
    fields: Sequence[str],
    to_image: np.ndarray | None = None,
    accept: Callable[[str, str], bool] | None = None,
) -> list[HandwrittenArea]:
    """Areas after the labels of ``fields`` holding ink but no confidently read word.

    ``ocr_words`` are boxes in the pixels of the image OCR read, of ``ocr_size`` (width,
    height); ``to_image`` maps those pixels into ``image`` (the page as scanned, in colour:
    the OCR copy may have had its coloured ink faded, and the operator needs the ink). Areas
    are judged and cut in ``image``; ``labels`` maps each field to its printed labels (the
    catalogue's form spec: labels of other fields end an area). ``accept(field, text)`` says
    whether confidently read words are a value of the field at all ("2/." is no sex): when
    they are not, the ink is judged as if OCR had read nothing.
    """
    width, height = ocr_size
    words = _words(ocr_words)
    runs = _label_token_runs(words, labels)
    areas: list[HandwrittenArea] = []
    for name, label_words in runs:
        if name not in fields:
            continue
        last = label_words[-1]
        line_top = min(w.top for w in label_words)
        line_bottom = max(w.bottom for w in label_words)
        pitch = max(8, line_bottom - line_top)
        top = max(0, line_top - pitch // 2)
        bottom = min(height, line_bottom + pitch // 2)
        left = last.right + max(2, pitch // 4)
        # The area ends at the next label on the same line, else at the right margin.
        right = width - max(4, width // 40)
        for other_name, other in runs:
            if other is label_words or other_name == name:
                continue
            first = other[0]
            if _same_line(first, last) and first.left > last.right:
                right = min(right, first.left - 2)
        if right - left < 2 * pitch:
            continue
        inside = [
            w
            for w in words
            if w.left >= left - 2
            and w.right <= right + 2
            and _same_line(w, last)
            and re.search(r"\w", w.text)
            and not re.fullmatch(r"[.…_:\-]+", w.text)
        ]
        confident = bool(inside) and min(w.confidence for w in inside) >= MIN_WORD_CONFIDENCE
        if confident and (accept is None or accept(name, " ".join(w.text for w in inside))):
            continue  # OCR read the value: no handwriting to key in
        x0, y0, x1, y1 = _to_image_box((left, top, right, bottom), to_image, image.shape)
        crop = image[y0:y1, x0:x1]
        if crop.size == 0 or ink_fraction(crop) < MIN_INK_FRACTION:
            continue  # nothing written there: a missing value, not a handwritten one
        image_h, image_w = image.shape[:2]
        areas.append(
            HandwrittenArea(
                field=name,
                box=(x0 / image_w, y0 / image_h, x1 / image_w, y1 / image_h),
                crop=crop.copy(),
            )
        )
    return areas


# A reader's guess at handwriting shown to a person must look like writing: on real forms the
# line reader turned dot leaders and crossings into ".$$PP.T ?!ỆMttt$ệ …" at 42 % (issue 28),
# and good readings trail noise ("08/02/1961....0..", "Hồ Quang Đạt __đz_tỂ- F*+ẵ]P/_").
MIN_SUGGESTION_CONFIDENCE = 0.3
MIN_SUGGESTION_SYLLABLES = 0.6  # of a name's or an address's words, when the list is there
MAX_SUGGESTION_CHARS = 240  # a field's value is a line: no scan of a reader's whole page
_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}")
_DIGIT_RUN = re.compile(r"\d{9,12}")
_ADDRESS_MARKS = frozenset(",./-")


def suggested_value(field: str, text: str, confidence: float) -> str | None:
    """The value a line reader's reading of a handwritten area offers for ``field``, cut
    from the noise around it, or None when it offers none worth a person's look.

    A date, an ID number or a phone number is the first one found in the reading; a sex
    word the reading starts with; a name or an address the words it starts with, up to the
    first that is not made of letters (and, for an address, digits and its punctuation),
    mostly Vietnamese syllables."""
    text = " ".join(text[:MAX_SUGGESTION_CHARS].split())
    if not text or confidence < MIN_SUGGESTION_CONFIDENCE:
        return None
    if field == "date_of_birth":
        found = _DATE.search(text)
        return found.group(0) if found and parse_date(found.group(0)) else None
    if field in ("id_number", "phone"):
        digits = "".join(text.split(".")).replace(" ", "")
        found = _DIGIT_RUN.search(digits)
        value = found.group(0) if found else ""
        check = normalise_id_number if field == "id_number" else normalise_phone
        return value if value and check(value) else None
    if field == "sex":
        word = text.split()[0].casefold()
        return next((s for s in ("Nam", "Nữ") if word.startswith(s.casefold())), None)
    kept: list[str] = []
    for word in text.split():
        if word.endswith(":"):
            # The next field's label ("Quốc tịch:"): its words, back to its capital, go too.
            while kept and not word[:1].isupper():
                word = kept.pop()
            break
        bare = word.strip(".,;")
        allowed = (
            (lambda ch: ch.isalpha())
            if field != "address"
            else (lambda ch: ch.isalnum() or ch in _ADDRESS_MARKS)
        )
        if not bare or not all(allowed(ch) for ch in bare):
            break
        kept.append(bare if field != "address" else word)
    value = " ".join(kept).strip(" ,.")
    if len(kept) < 2:
        return None  # one word of a name is no name
    if load_syllables() and text_quality(value).syllable_rate < MIN_SUGGESTION_SYLLABLES:
        return None
    return (proper_case_name(value) or None) if field == "full_name" else value
