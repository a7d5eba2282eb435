"""Reading handwritten areas: the seam between the field work and the readers that suggest.

A reader's text for a handwritten field is only ever a suggestion pre-filled in the review
queue, never an unreviewed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class CropReading:
    text: str
    confidence: float


class CropReader(Protocol):
    def read_crop(self, crop: np.ndarray) -> CropReading | None: ...
