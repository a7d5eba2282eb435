"""Clean: make a page easy to read for OCR, without touching the archived original.

Steps, all with OpenCV on a copy of the page:
1. grey + background (illumination) normalisation: divide by a smooth estimate of the paper,
   which also flattens shadows, yellowed paper and coloured stamps' halos;
2. dark scanner borders (areas where there is no paper at all) painted white;
3. orientation: text-line axis (0/90) from projection-profile sharpness, then up/down
   (0/180) from the ink above vs below each line's core (Latin ascenders and Vietnamese
   diacritics sit above far more often than descenders and dots below sit under);
4. deskew (up to ``MAX_SKEW_DEG``), and resampling to the OCR resolution, in one warp;
5. blank-page detection on the result.

The result carries the affine transform from original pixels to cleaned pixels, so the
text layer found on the cleaned image can be laid exactly over the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.context import PageContext
from pipeline.engines import OcrEngine, engine_for
from pipeline.load import LoadedPage
from pipeline.turns import turn_clockwise

MAX_SKEW_DEG = 15.0
ANALYSIS_DPI = 150.0  # enough to separate lines and see diacritics, cheap to search
MAX_ANALYSIS_POINTS = 120_000
BLANK_MAX_INK = 0.003  # of the page's pixels
COARSE_POINTS = 30_000  # for the coarse skew search (see _coarse_angle)
# Below this up/down evidence (log ratio of ink above vs below line cores) we do not
# trust the heuristic and keep the page as it is.
MIN_UPDOWN_EVIDENCE = 0.05
# Below this we also ask Tesseract's orientation detection (slower, better on sparse pages).
OSD_FALLBACK_EVIDENCE = 0.2
OSD_MIN_CONFIDENCE = 2.0
# The image Tesseract gets is never larger than this (A3 at 300 dpi is 17 MP): upsampling a
# large low-resolution photo would otherwise cost gigabytes for nothing more to read.
MAX_OCR_PIXELS = 24_000_000
# Low-resolution pages are upsampled to this for OCR: on the real letters of bench/real_vn
# (75-150 dpi captures and scans), 200 read better than 250, 300 or 360 (sum of CER over
# 7 pages 102 against 107, 109, 110) and costs half the pixels of 300.
UPSAMPLE_DPI = 200.0
MIN_NATIVE_OCR_DPI = 190.0  # scans at "200 dpi" are often stored as 199.99 or 196
MAX_NATIVE_OCR_DPI = 400.0


@dataclass(frozen=True, eq=False)
class CleanedPage:
    index: int
    image: np.ndarray  # uint8 grey, upright, deskewed, background-normalised
    dpi: float  # of ``image``
    rotation: int  # clockwise degrees the original was turned to stand upright
    skew_deg: float  # counter-clockwise degrees of the deskew applied after ``rotation``
    to_cleaned: np.ndarray  # 3x3: original pixel coords (x, y, 1) -> cleaned pixel coords
    blank: bool
    ink_ratio: float
    orientation_evidence: float  # >0: upright evidence strength; ~0: undecided
    # Coloured ink (a seal, a signature, a title stamped in colour) was faded for OCR: what
    # it covered may have been text, so the never-worse guard reads the untouched scan too.
    faded_ink: bool = False
    tinted_share: float = 0.0  # of the pixels, tinted at all (``TINTED_CHROMA``)


@dataclass(frozen=True)
class Orientation:
    rotation: int  # 0, 90, 180, 270 clockwise
    skew_deg: float
    evidence: float


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


# Ink-colour separation. Printed text is black or grey: its three channels are alike.
# A red seal or blue-ink signature has one channel far above another. Such pixels are
# pushed most of the way to white for OCR only (the archive keeps the colour original);
# black print over a seal stays dark in every channel, so it survives.
COLOURED_CHROMA = 60  # max - min channel, of 255: JPEG noise on grey print stays under ~30
COLOURED_KEEP = 0.25  # what remains of a coloured pixel's darkness
MIN_COLOURED_SHARE = 0.0005  # fewer coloured pixels than this: nothing to separate
# Any tint at all: a pale pen photographed (25-45) is over it, a colour scan of black print
# has almost no pixel over it. Pages with tinted ink have their words sorted by colour after
# OCR (pipeline/inkcolour.py), the others skip that.
TINTED_CHROMA = 22


def ocr_grey(image: np.ndarray) -> tuple[np.ndarray, bool, float]:
    """The grey page OCR reads, with coloured ink faded; True when any was faded; and the
    share of the page's pixels tinted at all (chroma above ``TINTED_CHROMA``)."""
    grey = to_grey(image)
    if image.ndim == 2:
        return grey, False, 0.0
    # Most colour scans hold black print only: every fourth pixel of every fourth row says so
    # in a sixteenth of the time (a pen's word or a seal spans hundreds of those samples).
    sample = np.ascontiguousarray(image[::4, ::4])
    if _share_over(brightest_and_chroma(sample)[1], TINTED_CHROMA) < MIN_COLOURED_SHARE / 2:
        return grey, False, 0.0
    high, chroma = brightest_and_chroma(image)
    tinted_share = _share_over(chroma, TINTED_CHROMA)
    _, coloured = cv2.threshold(chroma, COLOURED_CHROMA, 255, cv2.THRESH_BINARY)
    if cv2.countNonZero(coloured) < MIN_COLOURED_SHARE * coloured.size:
        return grey, False, tinted_share
    grey = grey.copy()
    cv2.copyTo(cv2.LUT(high, _FADE), coloured, grey)
    return grey, True, tinted_share


def brightest_and_chroma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's brightest channel, and its chroma (brightest - darkest), of a BGR image."""
    # OpenCV's per-channel max/min: ten times faster than numpy's reductions over axis 2.
    blue, green, red = cv2.split(image)
    high = cv2.max(cv2.max(blue, green), red)
    return high, cv2.subtract(high, cv2.min(cv2.min(blue, green), red))


def _share_over(chroma: np.ndarray, level: int) -> float:
    _, over = cv2.threshold(chroma, level, 255, cv2.THRESH_BINARY)
    return cv2.countNonZero(over) / over.size


# What a coloured pixel becomes, from its brightest channel: most of the way to paper.
_FADE = np.clip(255 - (255 - np.arange(256, dtype=np.float32)) * COLOURED_KEEP, 0, 255).astype(
    np.uint8
)


def normalise_background(grey: np.ndarray, dpi: float) -> np.ndarray:
    """Divide by a smooth paper estimate: white paper, dark ink, whatever the lighting.

    Areas with no paper at all (scanner lid, dark borders) become white.
    """
    # Estimate the paper on a small copy: a closing wider than any stroke removes the ink.
    factor = min(1.0, 50.0 / dpi)
    small = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))  # ~4.5 mm at 50 dpi
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    paper = cv2.medianBlur(paper, 5)
    paper = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    normalised = cv2.divide(grey, np.maximum(paper, 1), scale=255)
    # Where the "paper" itself is dark there is no paper: that is a scanner border.
    typical = percentile_u8(paper, 75)
    no_paper = paper < typical * 0.45
    normalised[no_paper] = 255
    return normalised


def percentile_u8(image: np.ndarray, q: float) -> float:
    """``np.percentile(image, q)`` of a uint8 image (linear interpolation, as numpy), from
    its histogram: the same value without sorting millions of pixels (2 ms, not 20)."""
    if image.size < 1 << 24:  # OpenCV counts in float32: exact below 2**24 pixels
        counts = cv2.calcHist([np.ascontiguousarray(image)], [0], None, [256], [0, 256])
        cumulative = np.cumsum(counts.ravel().astype(np.int64))
    else:
        cumulative = np.cumsum(np.bincount(image.ravel(), minlength=256))
    rank = (image.size - 1) * q / 100.0
    low = int(np.floor(rank))
    # The value at sorted position j is the first level whose cumulative count exceeds j.
    below = int(np.searchsorted(cumulative, low, side="right"))
    above = int(np.searchsorted(cumulative, min(low + 1, image.size - 1), side="right"))
    return below + (rank - low) * (above - below)


def ink_mask(normalised: np.ndarray) -> np.ndarray:
    """Binary ink (255) on paper (0) for a background-normalised image."""
    _, mask = cv2.threshold(normalised, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    # Otsu on a near-empty page picks a threshold inside the paper noise: cap it.
    _, strict = cv2.threshold(normalised, 200, 255, cv2.THRESH_BINARY_INV)
    return cv2.bitwise_and(mask, strict)


def text_like(mask: np.ndarray) -> np.ndarray:
    """Keep the marks that can be letters: drop rules, frames, photos, seals, edge remnants.

    Long lines and border remnants dominate projection profiles and would outvote the text.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    height, width = mask.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    longest = max(height, width)
    keep = (
        (w < longest * 0.08)
        & (h < longest * 0.05)
        & (x > 0)
        & (y > 0)
        & (x + w < width)
        & (y + h < height)
    )
    keep[0] = False
    return np.where(keep[labels], np.uint8(255), np.uint8(0))


def despeckle(normalised: np.ndarray, dpi: float) -> np.ndarray:
    """Remove isolated specks (dust, toner, paper fibres), keep diacritics.

    A diacritic dot is as small as a speck; what tells them apart is that a diacritic
    sits within a stroke's height of a letter, a speck alone on the paper.
    """
    _, ink = cv2.threshold(normalised, 160, 255, cv2.THRESH_BINARY_INV)
    # Labels without OpenCV's per-component statistics (those cost five times the labelling)
    # and every lookup on the ink pixels alone, a few percent of the page: 12 ms, not 41, on
    # a 200 dpi page.
    count, labels = cv2.connectedComponents(ink, connectivity=8)
    if count <= 1:
        return normalised
    at_ink = np.flatnonzero(ink)
    ink_labels = labels.ravel()[at_ink]
    scale = dpi / 300.0
    area = np.bincount(ink_labels, minlength=count)
    small = area <= max(4, int(40 * scale * scale))  # up to ~0.5 mm across
    small[0] = False
    if not small.any():
        return normalised
    speck_at = at_ink[small[ink_labels]]  # the specks' pixels, as flat indices
    big_mask = ink.copy()  # ink of the components that are not specks
    big_mask.ravel()[speck_at] = 0
    reach = max(3, round(24 * scale))  # ~2 mm: stacked diacritics sit within this of a letter
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1))
    near_text = cv2.dilate(big_mask, kernel)
    isolated = speck_at[near_text.ravel()[speck_at] == 0]
    if not isolated.size:
        return normalised
    result = normalised.copy()
    result.ravel()[isolated] = 255
    return result


def _profile_score(xs: np.ndarray, ys: np.ndarray, angle_deg: float) -> float:
    theta = np.deg2rad(angle_deg)
    projected = -np.sin(theta) * xs + np.cos(theta) * ys
    projected -= projected.min()
    counts = np.bincount(projected.astype(np.int64))
    return float(np.dot(counts, counts))


# A turn whose coarse score is under this share of the other's is not refined.
CLEARLY_NOT = 0.8


def _coarse_angle(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    """The best half degree and its score, on every few points of the (row-ordered) ink:
    enough to pick the half degree to refine, and to tell text lines from text columns."""
    coarse = np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 0.01, 0.5)
    step = -(-xs.size // COARSE_POINTS)  # ceil: at most COARSE_POINTS points
    sparse_xs, sparse_ys = xs[::step], ys[::step]
    scores = [_profile_score(sparse_xs, sparse_ys, a) for a in coarse]
    best = int(np.argmax(scores))
    return float(coarse[best]), float(scores[best])


def _fine_angle(xs: np.ndarray, ys: np.ndarray, centre: float) -> tuple[float, float]:
    """The best angle within half a degree of ``centre``, on every point, and its score."""
    fine = np.arange(centre - 0.5, centre + 0.51, 0.05)
    fine_scores = [_profile_score(xs, ys, a) for a in fine]
    best = int(np.argmax(fine_scores))
    return float(fine[best]), float(fine_scores[best])


def _updown_evidence(xs: np.ndarray, ys: np.ndarray, angle_deg: float) -> float:
    """log(ink above line cores / ink below): positive when the text stands upright."""
    theta = np.deg2rad(angle_deg)
    projected = -np.sin(theta) * xs + np.cos(theta) * ys
    projected -= projected.min()
    profile: np.ndarray = np.bincount(projected.astype(np.int64)).astype(np.float64)
    if profile.size < 8 or profile.max() <= 0:
        return 0.0
    in_line = profile > profile.max() * 0.04
    above = below = 0.0
    start = None
    for row in range(profile.size + 1):
        inside = row < profile.size and in_line[row]
        if inside and start is None:
            start = row
        elif not inside and start is not None:
            line = profile[start:row]
            if line.size >= 4:
                core = np.nonzero(line >= line.max() * 0.45)[0]
                top, bottom = int(core[0]), int(core[-1])
                above += float(line[:top].sum())
                below += float(line[bottom + 1 :].sum())
            start = None
    return float(np.log((above + 1.0) / (below + 1.0)))


def detect_orientation(mask: np.ndarray) -> Orientation:
    """Find clockwise rotation (0/90/180/270) and residual skew from an ink mask."""
    points = cv2.findNonZero(mask)  # as np.nonzero (row by row), several times faster
    if points is None or len(points) < 50:
        return Orientation(0, 0.0, 0.0)
    points = points.reshape(-1, 2)  # (x, y) pairs
    cols, rows = points[:, 0], points[:, 1]
    if cols.size > MAX_ANALYSIS_POINTS:
        pick = np.random.default_rng(0).choice(cols.size, MAX_ANALYSIS_POINTS, replace=False)
        rows, cols = rows[pick], cols[pick]
    xs = cols.astype(np.float64)
    ys = rows.astype(np.float64)
    height = float(mask.shape[0])
    # Candidate 0: as scanned. Candidate 90: turned 90 clockwise, (x, y) -> (H - y, x).
    centre_0, coarse_0 = _coarse_angle(xs, ys)
    centre_90, coarse_90 = _coarse_angle(height - ys, xs)
    # The refinement (every point, 21 angles) is spent only on a candidate the coarse look
    # leaves in doubt: lines across a page project several times sharper than down it.
    angle_0, score_0, angle_90, score_90 = centre_0, 0.0, centre_90, 0.0
    if coarse_0 >= coarse_90 * CLEARLY_NOT:
        angle_0, score_0 = _fine_angle(xs, ys, centre_0)
    if coarse_90 >= coarse_0 * CLEARLY_NOT:
        angle_90, score_90 = _fine_angle(height - ys, xs, centre_90)
    if score_90 > score_0 * 1.05:
        base, angle, rx, ry = 90, angle_90, height - ys, xs
    else:
        base, angle, rx, ry = 0, angle_0, xs, ys
    evidence = _updown_evidence(rx, ry, angle)
    if evidence < -MIN_UPDOWN_EVIDENCE:
        # Upside down: turn another 180. Skew seen upside down keeps its sign.
        return Orientation((base + 180) % 360, angle, -evidence)
    return Orientation(base, angle, evidence)


def _rotation_matrix(rotation: int, width: int, height: int) -> np.ndarray:
    """3x3 for cv2.rotate's clockwise turns, in continuous pixel coordinates."""
    if rotation == 90:
        return np.array([[0, -1, height], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    if rotation == 180:
        return np.array([[-1, 0, width], [0, -1, height], [0, 0, 1]], dtype=np.float64)
    if rotation == 270:
        return np.array([[0, 1, 0], [-1, 0, width], [0, 0, 1]], dtype=np.float64)
    return np.eye(3, dtype=np.float64)


def is_blank(mask: np.ndarray, dpi: float) -> tuple[bool, float]:
    """Blank back of a sheet: no letter-sized marks and hardly any ink.

    Scanner dust and paper fibres give small isolated specks; even one short line of text
    gives dozens of marks at least a millimetre tall, and a lone stamp or signature gives
    a lot of ink.
    """
    speck = max(1, round(dpi / 150.0))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (speck + 1, speck + 1))
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    ink_ratio = float(np.count_nonzero(opened)) / float(opened.size)
    if ink_ratio >= BLANK_MAX_INK:
        return False, ink_ratio  # too much ink for a blank side, whatever its marks
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    px_per_mm = dpi / 25.4
    heights = stats[1:, cv2.CC_STAT_HEIGHT] if count > 1 else np.zeros(0)
    letters = int(np.count_nonzero((heights >= 1.0 * px_per_mm) & (heights <= 25 * px_per_mm)))
    return letters < 10, ink_ratio


def ocr_scale(dpi: float, ocr_dpi: int, pixels: int = 0) -> float:
    """How much to resample a page for OCR.

    Measured (bench/ocr.py, 8-12 pt Vietnamese at 200 dpi): OCR at the native 200 dpi
    is as accurate as upsampled to 300 and a third faster, so scans between 200 and
    400 dpi are read as they are. Below 200 dpi text gets too small for Tesseract: up
    to ``UPSAMPLE_DPI``. Above 400 dpi there is nothing more to read: down to ``ocr_dpi``.
    Never more than ``MAX_OCR_PIXELS`` either way.
    """
    if dpi < MIN_NATIVE_OCR_DPI:
        scale = UPSAMPLE_DPI / dpi
    elif dpi > MAX_NATIVE_OCR_DPI:
        scale = ocr_dpi / dpi
    else:
        scale = 1.0
    if pixels:
        limit = (MAX_OCR_PIXELS / pixels) ** 0.5
        # Upsampling stops at the cap (never below as is); a huge page is read smaller.
        scale = max(1.0, min(scale, limit)) if scale > 1.0 else min(scale, limit)
    return scale


def _confirm_with_osd(
    normalised: np.ndarray, guess: Orientation, dpi: float, engine: OcrEngine
) -> Orientation:
    """Weak up/down evidence (little text, all capitals): ask the OCR engine (Tesseract's
    OSD) to decide."""
    turned = turn_clockwise(normalised, guess.rotation)
    factor = min(1.0, 300.0 / dpi)
    if factor < 1.0:
        turned = cv2.resize(turned, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    answer = engine.orient(turned, timeout_s=20)
    if answer is None:
        return guess
    rotate, confidence = answer
    if rotate == 180 and confidence >= OSD_MIN_CONFIDENCE:
        return Orientation((guess.rotation + 180) % 360, guess.skew_deg, confidence)
    return guess


def clean_page(page: LoadedPage, context: PageContext) -> CleanedPage:
    grey, faded_ink, tinted_share = ocr_grey(page.image)
    normalised = normalise_background(grey, page.dpi)

    factor = min(1.0, ANALYSIS_DPI / page.dpi)
    small = cv2.resize(normalised, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    small_mask = ink_mask(small)
    blank, ink_ratio = is_blank(small_mask, page.dpi * factor)
    orientation = Orientation(0, 0.0, 0.0) if blank else detect_orientation(text_like(small_mask))

    if not blank:
        normalised = despeckle(normalised, page.dpi)
        if orientation.evidence < OSD_FALLBACK_EVIDENCE:
            orientation = _confirm_with_osd(normalised, orientation, page.dpi, engine_for(context))

    height, width = normalised.shape
    turned = turn_clockwise(normalised, orientation.rotation)
    to_turned = _rotation_matrix(orientation.rotation, width, height)

    scale = ocr_scale(page.paper_dpi, context.ocr_dpi, normalised.size)
    skew = orientation.skew_deg if abs(orientation.skew_deg) >= 0.1 else 0.0
    if skew == 0.0 and scale == 1.0:
        cleaned = turned
        warp = np.eye(3)
    else:
        t_h, t_w = turned.shape
        matrix = cv2.getRotationMatrix2D((t_w / 2.0, t_h / 2.0), skew, scale)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        out_w = int(np.ceil(t_w * cos + t_h * sin))
        out_h = int(np.ceil(t_w * sin + t_h * cos))
        matrix[0, 2] += out_w / 2.0 - t_w / 2.0
        matrix[1, 2] += out_h / 2.0 - t_h / 2.0
        interpolation = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA
        if skew != 0.0 and scale <= 1.0:
            interpolation = cv2.INTER_LINEAR
        cleaned = cv2.warpAffine(
            turned,
            matrix,
            (out_w, out_h),
            flags=interpolation,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=255,
        )
        warp = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return CleanedPage(
        index=page.index,
        image=cleaned,
        dpi=page.dpi * scale,
        rotation=orientation.rotation,
        skew_deg=skew,
        to_cleaned=warp @ to_turned,
        blank=blank,
        ink_ratio=ink_ratio,
        orientation_evidence=orientation.evidence,
        faded_ink=faded_ink,
        tinted_share=tinted_share,
    )
