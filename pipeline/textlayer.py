"""The invisible text layer: OCR words drawn in a glyphless font over the page image.

Why our own instead of Tesseract's PDF renderer: text extraction (pdftotext, search
indexers) splits and scrambles lines whose glyphs are rotated by a few degrees, and a
counter scan is always a little skewed. Here every OCR line is written straight along
the page's reading axis on one baseline, so extraction reads whole lines in order; the
deskew angle only moves where the line sits, never tilts it.

The font is pipeline/glyphless.py's.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from pipeline.glyphless import ADVANCE, FONT_RESOURCE
from pipeline.letterhead import HEAD_RIGHT_SIZE, cut_at_gutters_below, head_sizes, letter_head
from pipeline.linebox import LineBox, lines_from_words

__all__ = ["LineBox", "lines_from_words"]  # drawn here, made in pipeline/linebox.py


# Words further apart than this many line heights are not one run of text: they stand in
# side-by-side blocks (the agency's name and the national motto of a letter head, the
# "Nơi nhận" list and the signer). Such a gap is left open, so text extraction (pdftotext,
# indexers) sees two blocks and reads them one after the other instead of interleaved.
COLUMN_GAP_LINES = 1.6
# ... except between two labels of one form row ("3. Giới tính: ____ 4. Ngày sinh: ____"):
# the gap is the blank left for a value (the pen's, faded out of the printed text, or none),
# and the row reads left to right. Cut there, each label was drawn on its own baseline across
# a scan's skew, and pdftotext read a right-hand label after the left-hand labels of lines
# below it (generated filled-in forms scanned, bench/forms.py: 10.3 % CER, 7.8 % uncut).
LABEL_END = ":"
MAX_SIZE_OF_PITCH = 0.8  # text size at most this share of the distance between lines


def _snap(vector: np.ndarray) -> np.ndarray:
    """The axis direction nearest to ``vector``, keeping its length (removes deskew tilt)."""
    length = float(np.hypot(vector[0], vector[1]))
    if abs(vector[0]) >= abs(vector[1]):
        return np.array([np.sign(vector[0]) * length, 0.0])
    return np.array([0.0, np.sign(vector[1]) * length])


def _utf16_hex(text: str) -> str:
    # Characters outside the BMP would need surrogate pairs the identity CMap cannot map.
    safe = "".join(
        ch if ord(ch) < 0x10000 and not 0xD800 <= ord(ch) <= 0xDFFF else "\ufffd" for ch in text
    )
    return safe.encode("utf-16-be").hex().upper()


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _wide_parts(line: LineBox, height: float) -> list[Sequence[tuple[str, float, float]]]:
    """A line's words cut at every gap wider than ``COLUMN_GAP_LINES`` line heights."""
    wide = [
        at
        for at in range(1, len(line.words))
        if line.words[at][1] - line.words[at - 1][2] > COLUMN_GAP_LINES * height
    ]
    edges = [0, *wide, len(line.words)]
    return [line.words[start:end] for start, end in pairwise(edges)]


def split_at_gaps(line: LineBox, height: float) -> list[LineBox]:
    """The runs of a line whose words are closer than ``COLUMN_GAP_LINES`` line heights,
    a gap between two labels of a form row left uncut."""
    parts = _wide_parts(line, height)
    runs = [list(parts[0])]
    for before, part in pairwise(parts):
        if not (_holds_label(before) and _holds_label(part)) and not _date_blank(before, part):
            runs.append([])
        runs[-1].extend(part)
    return [replace(line, words=tuple(run)) for run in runs]


# A table of figures (a balance sheet, a list of marks): each row a label, then two or more
# figures across wide gaps ("Vốn góp của chủ sở hữu   411   110.402.410.000"), row after
# row. The engine reads a row as one line, and so does the truth (row by row,
# TRANSCRIBING.md); cut at its gaps, every column became a block of its own and pdftotext
# read the table column by column (a real balance sheet: the labels, then the codes, then
# each year's figures). Side-by-side blocks (a letter's head and foot, two columns of prose)
# have words, not figures, across their gap; a lone line of figures (a page number and a
# seal's remnants in a foot) is no table.
MIN_FIGURES = 2
NEXT_ROW_SIZES = 3.0  # a table's next row stands at most this many text sizes away
MAX_FIGURE_WORDS = 2
NO_FIGURE = frozenset("-–—")  # a cell's dash: nothing to report


# A table of items is read row by row too: each row starts with its number ("1.", "2)",
# "III.") and its cells of words stand across wide gaps ("1.   Trang bìa (Cover Page)
# Ban biên tập"). Cut at the gaps, every column was a block of its own, and pdftotext read
# the numbers, then each column (a held-out university plan, 8.5 % against bare
# Tesseract's 6.1 %). A line in parts that starts with such a number and holds a word of
# letters is a row when the page has two such lines at least; a numbered paragraph is one
# part. A header ("STT  Nội dung ...") is left in parts: its cells often run on two or
# three lines, and drawn whole it made pdftotext read a real report's table column by
# column (15.3 -> 18.7 %).
ROW_NUMBER_ENDS = ".)"
MIN_ITEM_ROWS = 2


def _row_number(word: str) -> bool:
    """ "1.", "12)", "3" or "IV.": a table row's number."""
    core = word.rstrip(ROW_NUMBER_ENDS)
    if not core or len(word) - len(core) > 1:
        return False
    return (core.isdigit() and len(core) <= 3) or (
        word != core and set(core) <= set("IVX") and len(core) <= 4
    )


def _item_row(line: LineBox, parts: Sequence[Sequence[tuple[str, float, float]]]) -> bool:
    """A numbered line in parts whose words past its number hold a word of letters (cells
    of figures alone are a table of figures, ``_figure_row``)."""
    return (
        _row_number(line.words[0][0])
        and any(sum(ch.isalpha() for ch in word) >= 2 for word, _, _ in line.words[1:])
        and len(parts) >= 2
    )


def table_rows(lines: Sequence[LineBox], sizes: Sequence[float]) -> set[int]:
    """Indexes of the lines that are rows of a table of figures, next to another such row,
    or of a table of items."""
    parts_of = [_wide_parts(line, size) for line, size in zip(lines, sizes, strict=True)]
    items = {at for at, line in enumerate(lines) if _item_row(line, parts_of[at])}
    figures = {at for at, parts in enumerate(parts_of) if _figure_row(parts)}
    # A figure row's neighbour comes before or after it, or (rows of pieces joined across
    # blocks, placed where their first piece was) stands within a row's pitch of it.
    beside = {
        at
        for at in figures
        if at - 1 in figures
        or at + 1 in figures
        or any(
            other != at and abs(lines[other].base - lines[at].base) <= NEXT_ROW_SIZES * sizes[at]
            for other in figures
        )
    }
    return beside | (items if len(items) >= MIN_ITEM_ROWS else set())


# ... and where the engine read such a table column by column (the labels one block, the
# codes another, each year's figures a third: a real balance sheet without rules), each row's
# pieces stand on one baseline in different blocks. pdftotext read them block by block, the
# labels then the figures; joined into one line they are a row like any other. Pieces within
# this share of their text size of one baseline, side by side without overlapping, are one
# row when they make a row of figures, and only on a page with at least two such rows.
ROW_BASE_SIZES = 0.4
MIN_JOINED_ROWS = 2


def rows_across_blocks(lines: Sequence[LineBox]) -> list[LineBox]:
    """``lines`` with the pieces of each row of a table of figures read in separate blocks
    joined into one line (at the place of its first piece), or as they are."""
    heights = [max(line.bottom - line.top, 1.0) for line in lines]
    order = sorted(range(len(lines)), key=lambda at: lines[at].base)
    bases = [lines[at].base for at in order]
    rows: dict[int, LineBox] = {}  # each row joined, at the place of its first piece
    taken: set[int] = set()
    for at in order:
        if at in taken:
            continue
        row = [at]
        reach = ROW_BASE_SIZES * heights[at]
        start = bisect_left(bases, lines[at].base - reach)
        for other in order[start : bisect_right(bases, lines[at].base + reach)]:
            if other in taken or other in row or lines[other].paragraph == lines[at].paragraph:
                continue
            if abs(lines[other].base - lines[at].base) > ROW_BASE_SIZES * min(
                heights[at], heights[other]
            ) or any(_overlap_x(lines[other], lines[piece]) for piece in row):
                continue
            row.append(other)
        if len(row) > 1:
            joined = _joined(lines, row)
            size = float(np.median([heights[piece] for piece in row]))
            if _figure_row(_wide_parts(joined, size)):
                rows[min(row)] = joined
                taken.update(row)
    if len(rows) < MIN_JOINED_ROWS:
        return list(lines)
    return [rows.get(at, line) for at, line in enumerate(lines) if at in rows or at not in taken]


def _overlap_x(one: LineBox, other: LineBox) -> bool:
    return one.words[0][1] < other.words[-1][2] and other.words[0][1] < one.words[-1][2]


def _joined(lines: Sequence[LineBox], row: Sequence[int]) -> LineBox:
    pieces = sorted((lines[at] for at in row), key=lambda line: line.words[0][1])
    return LineBox(
        words=tuple(word for piece in pieces for word in piece.words),
        top=min(piece.top for piece in pieces),
        bottom=max(piece.bottom for piece in pieces),
        paragraph=pieces[0].paragraph,
        baseline=float(np.median([piece.base for piece in pieces])),
    )


def _figure_row(parts: Sequence[Sequence[tuple[str, float, float]]]) -> bool:
    """Whether a line's parts between wide gaps are a label and at least two figures."""
    return sum(_is_figure(part) for part in parts[1:]) >= MIN_FIGURES


def _is_figure(part: Sequence[tuple[str, float, float]]) -> bool:
    """A table's figure: a word or two with a digit (an amount, a code, a date), or a dash
    for none."""
    if len(part) > MAX_FIGURE_WORDS:
        return False
    text = "".join(word for word, _, _ in part)
    return any(ch.isdigit() for ch in text) or (len(part) == 1 and set(text) <= NO_FIGURE)


# A date's blanks: "Hà Nội, ngày ___ tháng ___ năm 2025", the day and month written by hand
# (a pen's values are no print, and leave the text) or not at all. The gaps are no gutter:
# cut there, "tháng" and "năm 2025" became blocks of their own that pdftotext read after
# the document's title and subject.
DATE_BLANKS = {"ngày": "tháng", "tháng": "năm"}


def _date_blank(
    before: Sequence[tuple[str, float, float]], after: Sequence[tuple[str, float, float]]
) -> bool:
    """Whether the gap between two parts of a line is a date's blank for a day or a month."""
    word = before[-1][0].lower()
    return word in DATE_BLANKS and after[0][0].lower() == DATE_BLANKS[word]


def _holds_label(words: Sequence[tuple[str, float, float]]) -> bool:
    """Whether a part of a line holds a form label: a word of letters ending in a colon (a
    lone ":" is as often a mark of a signature or a seal read as text)."""
    return any(
        text.endswith(LABEL_END) and sum(ch.isalpha() for ch in text) >= 2 for text, _, _ in words
    )


def _paragraph_sizes(lines: Sequence[LineBox]) -> dict[tuple[int, int], float]:
    """One text size per paragraph: the median of its line heights, and never more than
    most of the distance between its lines.

    Line boxes vary with what a line holds (capitals with stacked diacritics, descenders);
    text extraction takes a change of size for a change of block and reorders lines, so the
    lines of one paragraph share one size. Boxes of Vietnamese lines are also taller than
    the line pitch (diacritics above capitals reach into the line above): text whose em
    boxes overlap the next line's is read as one line, word by word interleaved.
    """
    heights: dict[tuple[int, int], list[float]] = {}
    baselines: dict[tuple[int, int], list[float]] = {}
    for line in lines:
        heights.setdefault(line.paragraph, []).append(max(line.bottom - line.top, 1.0))
        baselines.setdefault(line.paragraph, []).append(line.base)
    sizes = {}
    for key, values in heights.items():
        size = float(np.median(values))
        pitches = [b - a for a, b in zip(baselines[key], baselines[key][1:], strict=False) if b > a]
        if pitches:
            size = min(size, MAX_SIZE_OF_PITCH * float(np.median(pitches)))
        sizes[key] = size
    return sizes


# pdftotext (poppler) finds blocks from the text alone: it grows a block by the lines above
# and below that overlap its box horizontally and whose text size is within 5 % of its own,
# and by any word on its own lines inside that box. A paragraph that flows around a picture
# or a caption is L-shaped; its box then covers the caption, the caption's box reaches the
# next column, and pdftotext joins both columns into one block whose lines it reads across
# the gutter ("unloading Se-" + "Dubrovnik," -> "SeDubrovnik,"). So the layer hands it
# rectangles it cannot join: a paragraph is cut where its lines' extent jumps, and blocks
# that touch are drawn in text sizes further apart than pdftotext's 5 %.
COLUMN_JUMP_SIZES = 2.0  # a line's edge this many text sizes off the block's starts another
SIZE_STEPS = (1.0, 0.9, 1.1)  # sizes a block may take, as shares of its paragraph's size
MIN_SIZE_CONTRAST = 0.08  # touching blocks' sizes differ by at least this share
TOUCH_SIZES = 1.5  # blocks closer than this many text sizes (and overlapping) touch


@dataclass
class TextBlock:
    """Lines of one paragraph that form a rectangle: one block for text extraction."""

    lines: list[int]  # indices into the page's lines
    left: float
    top: float
    right: float
    bottom: float
    base_size: float  # the paragraph's text size
    plain: bool = True  # every line is one run of words (no side-by-side parts)

    def add(self, index: int, line: LineBox, *, one_run: bool) -> None:
        self.plain = self.plain and one_run
        self.lines.append(index)
        self.left = min(self.left, line.words[0][1])
        self.right = max(self.right, line.words[-1][2])
        self.top = min(self.top, line.top)
        self.bottom = max(self.bottom, line.bottom)

    def jumps_to(self, line: LineBox) -> bool:
        """Whether ``line`` would make this block's box other than a rectangle of text.

        Text flowing around a picture or a caption keeps one edge and moves the other: the
        left edge (either way) or the right one outwards (a short line only ends a
        paragraph). Centred lines (headings) move both edges, and a first line's indent
        ends on the second: neither is a jump.
        """
        reach = COLUMN_JUMP_SIZES * self.base_size
        left, right = line.words[0][1], line.words[-1][2]
        left_moves = abs(left - self.left) > reach
        right_stays = abs(right - self.right) <= reach
        indent_ends = len(self.lines) == 1 and left < self.left
        return (left_moves and right_stays and not indent_ends) or (
            right > self.right + reach and abs(left - self.left) <= reach
        )

    def touches(self, other: TextBlock, size: float) -> bool:
        """Whether pdftotext could grow one of the two into the other (and should not).

        Two blocks with side-by-side parts (the lines of a letter head) are left as they are:
        pdftotext reads them well when it joins them, as it does when their sizes are close.
        """
        if not (self.plain or other.plain):
            return False
        overlap_x = self.left < other.right and other.left < self.right
        gap_y = max(self.top, other.top) - min(self.bottom, other.bottom)
        return overlap_x and gap_y <= TOUCH_SIZES * size


def text_blocks(lines: Sequence[LineBox]) -> list[TextBlock]:
    """The page's lines as blocks: paragraphs, cut where their lines' extent jumps.

    Only a paragraph of plain lines is cut: where a line holds side-by-side parts (a letter
    head's agency name and motto on one Tesseract line), its extent says nothing of a
    column, and the gaps between the parts already keep them apart.
    """
    sizes = _paragraph_sizes(lines)
    blocks: list[TextBlock] = []
    for index, line in enumerate(lines):
        size = sizes[line.paragraph]
        one_run = len(split_at_gaps(line, size)) == 1
        current = blocks[-1] if blocks else None
        if (
            current is None
            or lines[current.lines[-1]].paragraph != line.paragraph
            or (one_run and current.plain and current.jumps_to(line))
        ):
            left, right = line.words[0][1], line.words[-1][2]
            blocks.append(TextBlock([], left, line.top, right, line.bottom, size))
        blocks[-1].add(index, line, one_run=one_run)
    return blocks


def line_sizes(lines: Sequence[LineBox]) -> list[float]:
    """One text size per line: its block's, chosen apart from every block it touches when
    either of the two is a piece of a paragraph that was cut.

    A page whose paragraphs are all rectangles keeps each paragraph's own size: pdftotext's
    reading of it (a table's rows, a letter head's two sides) is not stirred by sizes moved
    for a flow that is not there (a real notice with a table read 3.8 points worse). Blocks
    of no cut paragraph that stack in close sizes (``_stacked``) share their mean size."""
    blocks = text_blocks(lines)
    paragraph_of = [lines[block.lines[0]].paragraph for block in blocks]
    pieces: dict[tuple[int, int], int] = {}
    for paragraph in paragraph_of:
        pieces[paragraph] = pieces.get(paragraph, 0) + 1
    cut = [pieces[paragraph] > 1 for paragraph in paragraph_of]
    chosen: list[float] = []
    for at, block in enumerate(blocks):
        candidates = [block.base_size * step for step in SIZE_STEPS]

        def contrast(size: float, block: TextBlock = block, at: int = at) -> float:
            apart = [
                abs(size - other_size) / max(size, other_size)
                for other_at, (other, other_size) in enumerate(zip(blocks, chosen, strict=False))
                if (cut[at] or cut[other_at]) and block.touches(other, max(size, other_size))
            ]
            return min(apart, default=1.0)

        fitting = [size for size in candidates if contrast(size) >= MIN_SIZE_CONTRAST]
        chosen.append(fitting[0] if fitting else max(candidates, key=contrast))
    at = 0
    while at < len(blocks):  # each stack drawn in its lines' mean size
        end = at + 1
        while (
            end < len(blocks)
            and not (cut[end - 1] or cut[end])
            and _stacked(blocks[end - 1], blocks[end], chosen[end - 1], chosen[end])
        ):
            end += 1
        if end - at > 1:
            chosen[at:end] = [sum(chosen[at:end]) / (end - at)] * (end - at)
        at = end
    sizes = [0.0] * len(lines)
    for block, size in zip(blocks, chosen, strict=True):
        for index in block.lines:
            sizes[index] = size
    return sizes


# Lines of a stack (the two lines of an agency's name in a letter head, a title over its
# subtitle) are often two paragraphs to Tesseract, sized apart by a pixel or two of their
# boxes. pdftotext joins lines into one block only when their sizes are within 5 % of each
# other, so a stack was one block or two by chance (a real letter head read the motto
# between the agency's two lines after a 3 % change of scan resolution), and two blocks
# side by side are read in the order of their tops. Sizes this close are made one (their
# mean: each moves by a few percent, too little to join words across a gutter).
STACK_SIZE_SPREAD = 0.15  # sizes within this share of each other are one stack's
STACK_GAP_SIZES = 0.5  # a stack's lines are at most this many text sizes apart


def _stacked(above: TextBlock, below: TextBlock, above_size: float, below_size: float) -> bool:
    """Whether ``below`` continues the stack of ``above``: right under it, overlapping it
    across, in a size close to its own."""
    if abs(above_size - below_size) > STACK_SIZE_SPREAD * max(above_size, below_size):
        return False
    overlap_x = above.left < below.right and below.left < above.right
    gap_y = below.top - above.bottom
    return overlap_x and gap_y <= STACK_GAP_SIZES * max(above_size, below_size)


# A gap inside a run wider than this many text sizes is bridged by its word's letters, which
# stop this many text sizes short of the next word (a word break for pdftotext, no hole).
BRIDGE_SIZES = 1.0
BRIDGE_SPACE = 0.3


def text_layer_content(lines: Sequence[LineBox], cleaned_to_user: np.ndarray) -> bytes:
    """Content stream drawing ``lines`` (cleaned px) invisibly in PDF user space."""
    linear = cleaned_to_user[:2, :2]
    # Directions of the cleaned image's x axis (reading) and its "up" (-y), snapped to axes.
    along = _snap(linear @ np.array([1.0, 0.0]))  # user units per cleaned pixel, reading dir
    up = _snap(linear @ np.array([0.0, -1.0]))
    sizes = line_sizes(lines)
    parts = [f"BT\n3 Tr\n{FONT_RESOURCE} 1 Tf\n"]
    rows = table_rows(lines, sizes)
    runs_of = [
        [whole] if at in rows else split_at_gaps(whole, size_px)
        for at, (whole, size_px) in enumerate(zip(lines, sizes, strict=True))
    ]
    runs_of = cut_at_gutters_below(lines, runs_of, sizes)
    head = letter_head(lines, runs_of)
    head_sizes_of = head_sizes(lines, sizes, head)
    for at, (whole, size_px) in enumerate(zip(lines, sizes, strict=True)):
        runs = runs_of[at]
        right_from = head.get(at, len(runs))
        size_px = head_sizes_of.get(at, size_px)
        for number, run in enumerate(runs):
            drawn = size_px * (HEAD_RIGHT_SIZE if number >= right_from else 1.0)
            parts.extend(_run_content(run, drawn, whole.base, cleaned_to_user, along, up))
    parts.append("ET\n")
    return "".join(parts).encode("ascii")


def _run_content(
    line: LineBox,
    size_px: float,
    baseline_px: float,
    cleaned_to_user: np.ndarray,
    along: np.ndarray,
    up: np.ndarray,
) -> list[str]:
    """Text operators for one run of words on one baseline."""
    unit_along = along / np.hypot(*along)
    unit_up = up / np.hypot(*up)
    first_left = line.words[0][1]
    last_right = line.words[-1][2]
    centre_px = np.array([(first_left + last_right) / 2.0, baseline_px, 1.0])
    # Where the run's centre really is on the original (deskew included) ...
    centre_user = (cleaned_to_user @ centre_px)[:2]
    size_user = float(np.hypot(*up)) * size_px
    parts = []
    for index, (text, left, right) in enumerate(line.words):
        word = text + (" " if index < len(line.words) - 1 else "")
        # ... and each word at its offset along the (untilted) line from that centre.
        offset_px = left - (first_left + last_right) / 2.0
        origin = centre_user + along * offset_px
        width_user = float(np.hypot(*along)) * max(right - left, 1.0)
        if index < len(line.words) - 1:
            # The trailing space reaches to the next word, so the run has no holes.
            reach_px = line.words[index + 1][1] - left
            if reach_px - (right - left) > BRIDGE_SIZES * size_px:
                # A wide gap left in a run (a table row's, a form row's): the space would be
                # as wide as the gap, and pdftotext drops a space and cuts the line at the
                # hole. The word's letters reach across instead, a space short of the next.
                word = text
                reach_px -= BRIDGE_SPACE * size_px
            width_user = float(np.hypot(*along)) * max(reach_px, 1.0)
        natural = len(word) * ADVANCE / 1000.0 * size_user
        stretch = width_user / natural if natural > 0 else 1.0
        a, b = unit_along * size_user * stretch
        c, d = unit_up * size_user
        parts.append(
            f"{_num(a)} {_num(b)} {_num(c)} {_num(d)} {_num(origin[0])} {_num(origin[1])} Tm "
            f"<{_utf16_hex(word)}> Tj\n"
        )
    return parts
