"""A letter's head read side by side: which lines of a page's top stand in two sides, and
the one size each stack of them is drawn in (pipeline/textlayer.py draws them)."""

from __future__ import annotations

from collections.abc import Sequence
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
            gaps = [b.words[0][1] - a.words[-1][2] for a, b in pairwise(runs)]
            head[at] = gaps.index(max(gaps)) + 1
            right_left = min(right_left, runs[head[at]].words[0][1])
        elif (
            head
            and len(runs) == 1
            and line.words[0][1] >= right_left - height
            and line.top <= bottom + height
        ):
            head[at], right_alone = 0, True  # the right side's own line
        else:
            break
        bottom = line.bottom
    return head


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
