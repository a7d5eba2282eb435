"""The neural line reader: AsterNet, a CTC line recogniser for Vietnamese, run with onnxruntime.

Our own small module around the model file and its vocabulary (nothing of the asterocr
package is imported: its wheel also carries training and remote-telemetry code). What we
learned by reading that package, and rely on here:

* input ``images``: float32 (batch, 3, 32, width), RGB, values 0-1 (``/ 255``, as its
  training loader feeds it), text dark on light, width any multiple of 4;
* output ``log_probs``: (width / 4 time steps, batch, 227) log-softmax over ``vocab.json``,
  whose index 0 is the CTC blank;
* at most 256 time steps (1024 pixels at height 32): its language head is positional and a
  longer line crashes onnxruntime. Longer lines are read in overlapping pieces and joined
  where the pieces overlap.

The vocabulary has no typographic quotes or dashes (“ ” – …): such marks come out as their
nearest ASCII look-alike or not at all.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from pipeline.weights import ModelFileError, cached_verified_files, default_models_dir

MODEL = "recogniser"
INPUT_HEIGHT = 32
STEP_PX = 4  # input columns per output time step
MAX_STEPS = 256
MAX_PIECE_PX = MAX_STEPS * STEP_PX
# Pieces of a long line overlap by about three letters, so the cut between them falls
# inside text both pieces saw whole.
PIECE_OVERLAP_PX = 96
EDGE_PAD_PX = 4  # paper added left and right: letters touching the crop's edge are misread
BLANK = 0


@dataclass(frozen=True)
class DecodedChar:
    char: str
    step: int  # the time step where it was first emitted
    probability: float  # its best frame's probability, 0-1


@dataclass(frozen=True)
class LineReading:
    text: str  # NFC, whitespace collapsed
    confidence: float  # 0-1: mean of the characters' probabilities (0 for an empty reading)
    chars: tuple[DecodedChar, ...]  # the characters as decoded, before whitespace collapse


def ctc_greedy(log_probs: np.ndarray, vocab: list[str], blank: int = BLANK) -> list[DecodedChar]:
    """Best path decoding of one (time steps, classes) array: repeats merged, blanks dropped."""
    best = log_probs.argmax(axis=1)
    best_prob = np.exp(log_probs.max(axis=1))
    decoded: list[DecodedChar] = []
    previous = blank
    for step, index in enumerate(best.tolist()):
        if index != blank:
            if index != previous:
                decoded.append(DecodedChar(vocab[index], step, float(best_prob[step])))
            elif best_prob[step] > decoded[-1].probability:
                last = decoded[-1]
                decoded[-1] = DecodedChar(last.char, last.step, float(best_prob[step]))
        previous = index
    return decoded


def split_spans(
    width: int, max_width: int = MAX_PIECE_PX, overlap: int = PIECE_OVERLAP_PX
) -> list[tuple[int, int]]:
    """Column spans [start, end) covering ``width``, each at most ``max_width`` wide, in
    multiples of the model's step, neighbours overlapping by ``overlap``."""
    if width <= max_width:
        return [(0, width)]
    advance = max_width - overlap
    advance -= advance % STEP_PX
    if advance <= 0:
        raise ValueError("overlap must be smaller than the piece width")
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + max_width, width)
        spans.append((start, end))
        if end >= width:
            return spans
        start += advance


def join_pieces(spans: list[tuple[int, int]], pieces: list[list[DecodedChar]]) -> list[DecodedChar]:
    """One line from overlapping pieces: each character is kept from the piece that owns its
    position (the cut is the middle of each overlap), with its step made line-absolute."""
    joined: list[DecodedChar] = []
    for index, ((start, end), piece) in enumerate(zip(spans, pieces, strict=True)):
        keep_from = (start + spans[index - 1][1]) / 2 if index > 0 else float("-inf")
        keep_to = (end + spans[index + 1][0]) / 2 if index + 1 < len(spans) else float("inf")
        for char in piece:
            column = start + char.step * STEP_PX
            if keep_from <= column < keep_to:
                joined.append(DecodedChar(char.char, column // STEP_PX, char.probability))
    return joined


def prepare_line(image: np.ndarray) -> np.ndarray:
    """A line crop (grey or BGR uint8) as the model's input: (3, 32, width) RGB in 0-1."""
    if image.ndim == 2:
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    else:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    if height == 0 or width == 0:
        raise ValueError("empty line image")
    paper = [int(v) for v in np.median(np.concatenate([rgb[:, 0], rgb[:, -1]]), axis=0)]
    pad = max(1, round(EDGE_PAD_PX * height / INPUT_HEIGHT))
    rgb = cv2.copyMakeBorder(rgb, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=paper)
    new_width = max(STEP_PX * 4, round(rgb.shape[1] * INPUT_HEIGHT / height))
    new_width += -new_width % STEP_PX
    shrinking = height > INPUT_HEIGHT
    resized = cv2.resize(
        rgb,
        (new_width, INPUT_HEIGHT),
        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
    )
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32) / 255.0


def reading_of(chars: list[DecodedChar]) -> LineReading:
    text = unicodedata.normalize("NFC", " ".join("".join(c.char for c in chars).split()))
    letters = [c.probability for c in chars if not c.char.isspace()]
    confidence = float(np.mean(letters)) if letters else 0.0
    return LineReading(text=text, confidence=confidence, chars=tuple(chars))


class LineReader(Protocol):
    def read_line(self, image: np.ndarray) -> LineReading: ...


class NeuralLineReader:
    """Reads one text line at a time. Thread-safe: onnxruntime's ``run`` may be called from
    several threads on one session, and each session uses one thread (pages run in
    parallel already; a session's own thread pool would fight them for the cores)."""

    def __init__(self, model_path: Path, vocab_path: Path) -> None:
        import onnxruntime  # here, not at import: Tesseract-only runs never load it

        vocab = json.loads(vocab_path.read_text(encoding="utf-8"))["chars"]
        if not isinstance(vocab, list) or not vocab or vocab[BLANK] != "<blank>":
            raise ModelFileError(f"{vocab_path}: not a CTC vocabulary with the blank first")
        self.vocab: list[str] = [str(c) for c in vocab]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        classes = self._session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(self.vocab):
            raise ModelFileError(
                f"{model_path}: {classes} output classes but {len(self.vocab)} in the vocabulary"
            )
        self._input = self._session.get_inputs()[0].name

    @classmethod
    def from_directory(cls, directory: Path) -> NeuralLineReader:
        files = cached_verified_files(MODEL, directory)
        return cls(files["asternet.onnx"], files["vocab.json"])

    def read_line(self, image: np.ndarray) -> LineReading:
        prepared = prepare_line(image)
        spans = split_spans(prepared.shape[2])
        pieces = [self._decode(prepared[:, :, start:end]) for start, end in spans]
        return reading_of(join_pieces(spans, pieces))

    def _decode(self, piece: np.ndarray) -> list[DecodedChar]:
        width = piece.shape[2]
        if width % STEP_PX:
            piece = np.pad(piece, ((0, 0), (0, 0), (0, STEP_PX - width % STEP_PX)), "edge")
        (log_probs,) = self._session.run(None, {self._input: piece[np.newaxis]})
        return ctc_greedy(np.asarray(log_probs)[:, 0, :], self.vocab)


_shared_lock = threading.Lock()
_shared: dict[Path, NeuralLineReader] = {}


def shared_reader(directory: Path | None = None) -> NeuralLineReader:
    """One reader per models directory and process, loaded on first use (~1 s)."""
    key = directory or default_models_dir()
    with _shared_lock:
        reader = _shared.get(key)
        if reader is None:
            reader = _shared[key] = NeuralLineReader.from_directory(key)
        return reader
