"""Settings from the environment (prefix ``SOHOA_``), frozen after they are read.

Only the entry points (``app/``) call :func:`load_settings`; everything below them
receives the frozen object or, for ``pipeline/``, explicit keyword values taken from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.catalogue import DEFAULT_CATALOGUE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOHOA_", frozen=True, extra="ignore")

    data_dir: Path = Field(default=Path("./sohoa-data"))
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite inside the data dir.",
    )
    lang: str = Field(default="vie", description="Tesseract language(s), e.g. 'vie' or 'vie+eng'.")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Pages processed at once (one Tesseract process each).",
    )
    ocr_dpi: int = Field(
        default=300, ge=150, le=600, description="Resolution OCR works at; low scans are upsampled."
    )
    page_timeout_s: float = Field(
        default=180.0, gt=0, description="Upper bound for OCR of one page."
    )
    max_pages_per_file: int = Field(default=2000, ge=1)
    max_file_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    max_page_pixels: int = Field(
        default=200_000_000,
        ge=1,
        description="Refuse larger images (decompression bombs); A0 at 600 dpi is ~140 MP.",
    )
    default_dpi: float = Field(default=300.0, gt=0, description="Assumed when a file carries none.")
    low_dpi_action: Literal["warn", "refuse"] = Field(
        default="warn",
        description="Pages under 200 dpi (the legal minimum): warn, or refuse the file.",
    )
    page_image_quality: int = Field(default=85, ge=30, le=100)
    # Object store on MinIO/S3 (production); empty endpoint means local files in the data dir.
    s3_endpoint: str = Field(default="", description="host:port of MinIO/S3")
    s3_access_key: str = Field(default="", repr=False)
    s3_secret_key: str = Field(default="", repr=False)
    s3_bucket: str = Field(default="sohoa")
    s3_secure: bool = Field(default=False)
    s3_retention_days: int = Field(
        default=0,
        ge=0,
        description="Object-lock retention for originals (days); 0 = off. Needs a new bucket.",
    )
    s3_retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(default="COMPLIANCE")
    catalogue_path: Path = Field(
        default=DEFAULT_CATALOGUE, description="The procedure catalogue (TOML)."
    )

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> Settings:
        # Resolve once so every component agrees on where things are, whatever its cwd.
        object.__setattr__(self, "data_dir", self.data_dir.expanduser().resolve())
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sohoa.db'}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; ``overrides`` come from command-line flags."""
    return Settings(**overrides)  # type: ignore[arg-type]
