"""A page turned upright: the quarter turns the pipeline records (``rotation``, clockwise
degrees), done as OpenCV does them. The cleaning stage, the handwriting crops and the
service's page images all turn pages by this one table."""

from __future__ import annotations

import cv2
import numpy as np

CLOCKWISE_TURNS = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def turn_clockwise(image: np.ndarray, degrees: int) -> np.ndarray:
    """``image`` turned ``degrees`` clockwise (90, 180, 270); any other value leaves it as is."""
    code = CLOCKWISE_TURNS.get(degrees)
    return cv2.rotate(image, code) if code is not None else image
