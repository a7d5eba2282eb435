"""A page cut off by the scanner: text that runs off the image's edge.

Paper laid past the edge of a scanner's glass, or a sheet fed askew, leaves a scan whose
lines stop at the image's border: the words there are halves. A printed page always has a
margin, so on a whole scan no word touches the border; when several do along one edge, a
part of the paper was not scanned and the clerk must scan the page again while the citizen
is still there. Judged on the final reading's word boxes (no pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.pagerecord import OcrWord, PageWarning, WarningCode

if TYPE_CHECKING:  # the step is run by pipeline.page, which imports this module
    from pipeline.page import PageJob

# How close to the border a word's box must come to touch it: a fraction of the page's
# side (0.4 % is 7 px of an A4 width at 200 dpi), at least 2 px.
EDGE_FRACTION = 0.004
# Words touching one edge before the page counts as cut off: one may be a page number or a
# stamp printed close to the edge; three along one side are lines of text that run off.
MIN_WORDS_AT_EDGE = 3

_EDGE_NAMES = {"left": "left", "right": "right", "top": "top", "bottom": "bottom"}


def edge_cut_off(
    words: Sequence[OcrWord],
    width: int,
    height: int,
    to_scan: np.ndarray | None = None,
) -> str | None:
    """The edge ("left", "right", "top", "bottom") of the scan along which text runs off,
    or None. ``width`` x ``height`` is the scan as it came off the scanner; ``to_scan``
    maps the words' boxes (in the cleaned image) back onto it: a sheet straightened before
    OCR has its cut edge inside the cleaned image, not on its border. Words of one
    character or with no letter or digit (specks, rules) do not count."""
    if width <= 0 or height <= 0:
        return None
    tol_x = max(2, round(width * EDGE_FRACTION))
    tol_y = max(2, round(height * EDGE_FRACTION))
    matrix = np.eye(3) if to_scan is None else to_scan
    touching = {"left": 0, "right": 0, "top": 0, "bottom": 0}
    for word in words:
        if sum(ch.isalnum() for ch in word.text) < 2:
            continue
        right, bottom = word.left + word.width, word.top + word.height
        corners = np.array(
            [[word.left, right, word.left, right], [word.top, word.top, bottom, bottom], [1] * 4],
            dtype=np.float64,
        )
        mapped = matrix @ corners
        xs, ys = mapped[0] / mapped[2], mapped[1] / mapped[2]
        if xs.min() <= tol_x:
            touching["left"] += 1
        if xs.max() >= width - tol_x:
            touching["right"] += 1
        if ys.min() <= tol_y:
            touching["top"] += 1
        if ys.max() >= height - tol_y:
            touching["bottom"] += 1
    edge, count = max(touching.items(), key=lambda item: item[1])
    return edge if count >= MIN_WORDS_AT_EDGE else None


def cut_off_warning(edge: str) -> PageWarning:
    return PageWarning(
        WarningCode.CUT_OFF,
        f"text runs off the {_EDGE_NAMES[edge]} edge: part of the page was not scanned",
    )


class EdgeStep:
    """Adds the cut-off warning to a page whose final reading has text at an edge."""

    name = "edges"

    def able_to_run(self, job: PageJob) -> bool:
        return job.ocr is not None and not (job.cleaned is not None and job.cleaned.blank)

    def run(self, job: PageJob) -> None:
        assert job.ocr is not None
        if job.cleaned is not None and job.loaded is not None:
            # Judged on the scan itself: straightening moves the cut edge off the border.
            to_scan = np.linalg.inv(job.cleaned.to_cleaned)
            edge = edge_cut_off(job.ocr.words, job.loaded.width, job.loaded.height, to_scan)
        else:
            edge = edge_cut_off(job.ocr.words, job.ocr.image_width, job.ocr.image_height)
        if edge is not None:
            job.warnings.append(cut_off_warning(edge))
