"""A letter's head read side by side: which lines of a page's top stand in two sides, and
the one size each stack of them is drawn in (pipeline/textlayer.py draws them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

import numpy as np

from pipeline.linebox import LineBox

# A letter head stands side by side: the agency's name on the left, the national motto and
# the place and date on the right, each line of Tesseract's running across both. pdftotext
# grows a block sideways over text in a size within 20 % of its own when the gap is under
# about a text size: a bold agency name reaching near the motto joined both sides into one
# block, read line by line across ("BỘ CÔNG THƯƠNG / CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM /
# TRƯỜNG ĐẠI HỌC ĐIỆN LỰC / Độc lập - ..."). In the letter head (``letter_head``), what
# stands right of a line's widest gap is drawn a quarter smaller: never joined sideways,
# while the right side's own lines, all of that size, still stack into their block. Only
# there: further down, lines in parts are a table's rows or a form's, which pdftotext reads
# well as rows when it joins them (a real notice's table read 4.7 -> 17.3 % with its rows'
# parts apart), or a list beside a receiving stamp.
HEAD_RIGHT_SIZE = 0.75


def letter_head(lines: Sequence[LineBox], runs_of: Sequence[list[LineBox]]) -> dict[int, int]:
    """The letter head's lines, each with the index of its first run on the right side: from
    the top of the page, the lines in parts side by side, then the lines of the right side
    alone just under them (0: the whole line), up to any other line (the document's title,
    or its body). A report's head ("Báo cáo tài chính / Cho năm tài chính kết thúc ngày /
    31 tháng 12 năm 2021" right of the company's two lines) has a right side longer than its
    left: its last line drawn full size was no block with the two above it, and pdftotext
    read the head's lines one by one, right before left (a held-out real page 20.4 %)."""
    head: dict[int, int] = {}
    right_left, bottom, right_alone = float("inf"), 0.0, False
    for at in sorted(range(len(lines)), key=lambda i: lines[i].top):
        runs, line = runs_of[at], lines[at]
        height = line.bottom - line.top
        if len(runs) >= 2 and not right_alone:
            head[at] = _widest_gap(runs)[0]
            right_left = min(right_left, runs[head[at]].words[0][1])
        elif (
            head
            and len(runs) == 1
            and line.words[0][1] >= right_left - height
            and line.top <= bottom + height
        ):
            head[at], right_alone = 0, True  # the right side's own line
        elif not head and _marks_only(line):
            continue  # specks above the head read as a line ("*»s")
        else:
            break
        bottom = line.bottom
    return head


def _widest_gap(runs: Sequence[LineBox]) -> tuple[int, float, float]:
    """(index of the run right of the widest gap between ``runs``, the gap's left and right
    edges): where a head line's right side starts, its gutter."""
    gaps = [b.words[0][1] - a.words[-1][2] for a, b in pairwise(runs)]
    at = gaps.index(max(gaps)) + 1
    return at, runs[at - 1].words[-1][2], runs[at].words[0][1]


MIN_LINE_LETTERS = 3  # a line above the head with fewer letters and digits is specks


def _marks_only(line: LineBox) -> bool:
    return sum(ch.isalnum() for word in line.words for ch in word[0]) < MIN_LINE_LETTERS


HEAD_STACK_SIZES = 1.5  # head lines whose baselines are this many sizes apart at most stack


def head_sizes(
    lines: Sequence[LineBox], sizes: Sequence[float], head: dict[int, int]
) -> dict[int, float]:
    """One size for each stack of head lines (lines whose baselines are at most
    ``HEAD_STACK_SIZES`` sizes apart): the median of its lines' sizes. A bold company name
    over its address are two sizes, and pdftotext stacks lines into one block only in sizes
    within 5 %; apart, each side's lines were blocks of their own, read one by one across
    the head (a held-out real report 20.4 %, bare Tesseract 15.9 %). A line further down
    (the number and date under an agency's name) keeps its own size."""

    def size_of(stack: list[int]) -> float:  # the lines across both sides size a stack
        return float(np.median([sizes[i] for i in stack if head[i]] or [sizes[stack[0]]]))

    stacks: list[list[int]] = []
    for at in sorted(head, key=lambda at: lines[at].top):
        if stacks:
            above = stacks[-1]
            if lines[at].base - lines[above[-1]].base <= HEAD_STACK_SIZES * size_of(above):
                above.append(at)
                continue
        stacks.append([at])
    return {at: size_of(stack) for stack in stacks for at in stack}


# A head's two sides can nearly touch on one line: a long agency name ("BỘ GIÁO DỤC VÀ ĐÀO
# TẠO") ends a little short of the motto ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), closer than
# a gutter between blocks, while the lines under it stand well apart. Left whole, the head's
# first line was one run, no head was found, and pdftotext read the head line by line across
# its sides (a held-out university letter, 28.2 %). A line above the page's first line in
# parts, stacked on it, whose gap of at least HEAD_GAP_SIZES text sizes lies in the gutter
# of the line under it (the gap between that line's two sides) is cut there too; a word's
# space is a third of a size.
HEAD_GAP_SIZES = 0.6


def cut_at_gutters_below(
    lines: Sequence[LineBox], runs_of: Sequence[list[LineBox]], sizes: Sequence[float]
) -> list[list[LineBox]]:
    """``runs_of`` with each line above the page's first line in parts cut where its gap
    stands in the gutter of the line under it, from that line up to one that has none."""
    order = sorted(range(len(lines)), key=lambda at: lines[at].top)
    out = list(runs_of)
    first = next((k for k, at in enumerate(order) if len(out[at]) >= 2), 0)
    for above, below in reversed(list(pairwise(order[: first + 1]))):
        if lines[below].top - lines[above].bottom > sizes[above]:
            break  # no stack: the line above is no part of the head
        cut = _cut_in_gutter(lines[above], out[below], HEAD_GAP_SIZES * sizes[above])
        if cut is None:
            break
        out[above] = cut
    return out


def _cut_in_gutter(line: LineBox, below: Sequence[LineBox], min_gap: float) -> list[LineBox] | None:
    """``line`` in two at a gap of at least ``min_gap`` that overlaps the widest gap between
    the runs of the line ``below``, or None. A mark read as a word between the two sides (a
    piece of an underline read as "_") does not close the gap: it is left out of both."""
    _, gutter_left, gutter_right = _widest_gap(below)
    words = [at for at, word in enumerate(line.words) if any(ch.isalnum() for ch in word[0])]
    for before, after in pairwise(words):
        left, right = line.words[before][2], line.words[after][1]
        if right - left >= min_gap and left < gutter_right and right > gutter_left:
            return [
                replace(line, words=line.words[: before + 1]),
                replace(line, words=line.words[after:]),
            ]
    return None
