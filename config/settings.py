"""Settings from the environment (prefix ``SOHOA_``), frozen after they are read.

Only the entry points (``app/``) call :func:`load_settings`; everything below them
receives the frozen object or, for ``pipeline/``, explicit keyword values taken from it.

Prefect flow runs and tasks are the exception: their parameters are recorded by the
orchestrator (its database, its UI), and the settings hold the S3 secret key. So a flow
run carries only an opaque reference (:func:`settings_ref`) and each task resolves it in
the process it runs in (:func:`settings_for`): the entry point's own settings when it runs
there, else that process's environment, read once.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.catalogue import DEFAULT_CATALOGUE
from config.signers import SignerConfigError, signers_from_settings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOHOA_", frozen=True, extra="ignore")

    data_dir: Path = Field(default=Path("./sohoa-data"))
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite inside the data dir.",
    )
    lang: str = Field(default="vie", description="Tesseract language(s), e.g. 'vie' or 'vie+eng'.")
    locale: str = Field(
        default="vi",
        pattern=r"^[a-z]{2}(-[A-Z]{2})?$",
        description="Language of the web pages: the catalogue app/messages/<locale>.toml.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Pages processed at once (one Tesseract process each).",
    )
    ocr_engine: str = Field(
        default="tesseract",
        min_length=1,
        max_length=40,
        description="The engine pages are read and turned upright by: a name registered in "
        "pipeline/engines.py (tesseract; neural reads the lines Tesseract finds).",
    )
    ocr_dpi: int = Field(
        default=300,
        ge=150,
        le=600,
        description="Scans finer than 400 dpi are read at this resolution.",
    )
    page_timeout_s: float = Field(
        default=180.0,
        gt=0,
        description="Upper bound for one page, every step of it (load, barcodes, cleanup, "
        "OCR, ...): past it the page fails with one line naming the file and the page.",
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
    # Colour (NĐ 30/2020 Phụ lục I: digitised copies are colour); a procedure's own
    # `colour_required` in the catalogue wins over this default.
    colour_required: bool = Field(
        default=True, description="Pages must be colour scans unless the procedure says not."
    )
    colour_action: Literal["warn", "refuse"] = Field(
        default="warn",
        description="Grey or black-and-white pages where colour is required: warn or refuse.",
    )
    page_image_quality: int = Field(default=85, ge=30, le=100)
    # The neural second reader (pipeline/second_reader.py) on lines Tesseract reads badly.
    # Off by default: it wins on generated and stamped pages, but in the whole pipeline it
    # made one real page (epu-dl0002) 3.3 points worse and the real mean 9.17 % against
    # 8.50 % (bench/real_vn.py). Handwriting suggestions use it whenever its files are there.
    second_reader: bool = Field(
        default=False, description="Re-read doubtful lines with the neural line reader."
    )
    models_dir: Path | None = Field(
        default=None,
        description="Its model files; empty means <python prefix>/share/sohoa-models.",
    )
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
    # The HTTP service (`sohoa serve`).
    max_files_per_batch: int = Field(default=200, ge=1)
    max_upload_bytes: int = Field(
        default=2 * 1024 * 1024 * 1024, ge=1, description="Whole upload request, all files."
    )
    batch_concurrency: int = Field(
        default=2, ge=1, description="Batches processed at once by `sohoa serve`."
    )
    prefect_ui_url: str = Field(
        default="", description="Prefect UI base URL for links to flow runs (empty: none)."
    )
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a token (inside a private network)."
    )
    session_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 30,
        description="How long a page sign-in lasts (its session ends earlier at sign-out).",
    )
    # People's accounts (app/accounts.py): wrong passwords in a row lock the account.
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords in a row that lock an account."
    )
    login_lockout_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="How long a locked account stays locked."
    )
    public_base_url: str = Field(
        default="",
        description="The service's address for links printed on paper (the receipt's QR); "
        "empty: the address the request came to.",
    )
    # Connection limits of ``sohoa serve`` (app/serverlimits.py): what a deployment needs
    # without a proxy in front. A client that never finishes a request cannot hold a socket.
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's headers must arrive within this."
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="A body's time, plus 1 s per body_min_rate bytes."
    )
    body_min_rate: int = Field(
        default=16 * 1024, ge=1, description="Bytes a second a slow upload must keep up."
    )
    keep_alive_s: float = Field(default=5.0, gt=0, description="Idle keep-alive connection.")
    max_connections: int = Field(
        default=1000, ge=1, description="Open connections (kept below the descriptor limit)."
    )
    # Issue 27: the handoff to agencies' systems (flows/handoff.py) and pushes (flows/push.py).
    handoff_link_minutes: float = Field(
        default=60.0,
        gt=0,
        le=7 * 24 * 60,
        description="How long a handoff's file links stay valid.",
    )
    handoff_link_secret: str = Field(
        default="",
        repr=False,
        description="Key of the links' HMAC; empty: one generated into the data dir on first use.",
    )
    push_timeout_s: float = Field(default=10.0, gt=0, le=300, description="One push's timeout.")
    push_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts before a push is a dead letter."
    )
    push_backoff_s: float = Field(
        default=5.0, ge=0, le=3600, description="First retry's wait; doubles, with jitter."
    )
    push_interval_s: float = Field(
        default=2.0, gt=0, le=600, description="How often `sohoa serve`'s pusher looks for work."
    )
    catalogue_path: Path = Field(
        default=DEFAULT_CATALOGUE, description="The procedure catalogue (TOML)."
    )
    # The digitiser's signature (TT 01/2023/TT-VPCP Art. 8); see config/signers.py.
    # Only paths and names live here: passwords are read from their file or variable
    # when a copy is signed, so they never sit in (or print with) the settings.
    signers_file: Path | None = Field(
        default=None, description="TOML mapping counter ids (and `default`) to signers."
    )
    signing_pkcs12: Path | None = Field(
        default=None, description="One machine, one signer: the digitiser's PKCS#12."
    )
    signing_password_file: Path | None = Field(
        default=None, description="File holding the password of SOHOA_SIGNING_PKCS12."
    )
    digitiser_name: str = Field(
        default="", description="Name on the stamp (and in the XMP) for SOHOA_SIGNING_PKCS12."
    )
    signing_required: bool = Field(
        default=False,
        description="A dossier whose counter has no signer fails instead of being archived "
        "unsigned (off by default so the demo runs without certificates).",
    )
    trust_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="CA certificates (PEM/DER) `sohoa verify` trusts; comma-separated.",
    )
    orchestrator: Literal["auto", "prefect", "inline"] = Field(
        default="auto",
        description="What runs a batch's tasks: 'prefect' (flow and task runs, seen in "
        "Prefect's UI), 'inline' (threads of this process, no Prefect), 'auto' (Prefect "
        "when PREFECT_API_URL names a server or for `sohoa serve`/`worker`; inline for a "
        "one-shot `sohoa process`/`resume` with no server: see orchestrator_for).",
    )
    # --- scale-out ---
    # Work distribution over Prefect (flows/deployed.py, app/scaleout.py): `sohoa deploy`
    # registers the deployment on a work pool, `sohoa worker`s on any machine run its flow
    # runs, and with SOHOA_DEPLOYMENT set `sohoa serve` only stores uploads and queues them.
    deployment: str = Field(
        default="",
        description="'flow/deployment' (e.g. sohoa-batch/default): `sohoa serve` queues each "
        "batch as a run of it for `sohoa worker`s instead of processing it itself.",
    )
    work_pool: str = Field(
        default="sohoa", description="Prefect work pool `sohoa deploy` uses, `sohoa worker` polls."
    )
    worker_runs: int = Field(
        default=1, ge=1, description="Batches (flow runs) one `sohoa worker` processes at once."
    )
    ocr_host: str = Field(
        default="",
        description="Machine name in the per-machine Tesseract limit `tesseract-<host>` "
        "(default: the host name; give containers on one machine the same value).",
    )
    ocr_slots: int = Field(
        default=0, ge=0, description="Tesseract processes at once per machine; 0 = its CPUs."
    )
    stage_log: str = Field(
        default="", description="File to append one JSON line per stage run (benches)."
    )
    # --- end scale-out ---

    @field_validator("signers_file", "signing_pkcs12", "signing_password_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: Any) -> Any:
        # `SOHOA_SIGNING_PKCS12=` (set but empty) means "not set", not the current directory.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("trust_roots", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    # Not a ValueError subclass: passes pydantic untouched, as one line.
                    raise SignerConfigError(
                        f"SOHOA_TRUST_ROOTS: not a JSON list of files ({exc})"
                    ) from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> Settings:
        # Resolve once so every component agrees on where things are, whatever its cwd.
        object.__setattr__(self, "data_dir", self.data_dir.expanduser().resolve())
        if self.signers_file is not None:
            object.__setattr__(self, "signers_file", self.signers_file.expanduser().resolve())
        return self

    @model_validator(mode="after")
    def _check_signers(self) -> Settings:
        # Fail at start, not after every dossier's OCR: a missing or malformed signers file
        # raises SignerConfigError (one line naming the file), which pydantic passes through
        # untouched because it is not a ValueError.
        signers_from_settings(self)
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


def orchestrator_for(settings: Settings, *, long_lived: bool) -> Literal["prefect", "inline"]:
    """Resolve ``auto`` at an entry point (before anything sets PREFECT_API_URL).

    A one-shot command with no Prefect server configured runs inline: Prefect would start
    its temporary server (10-30 s of a one-page job) to record runs nobody can see once it
    stops, while our own batch and dossier records are what the operators' pages show. A
    configured server, or a long-lived ``sohoa serve``, keeps Prefect's runs.
    """
    if settings.orchestrator != "auto":
        return settings.orchestrator
    if long_lived or os.environ.get("PREFECT_API_URL", "").strip():
        return "prefect"
    return "inline"


_registry_lock = threading.Lock()
_registered: dict[str, Settings] = {}


def settings_ref(settings: Settings) -> str:
    """An opaque id naming ``settings`` in this process: what a flow run carries instead.

    The same object always gets the same id, so the registry stays as small as the number
    of settings objects an entry point made (one, outside the tests).
    """
    with _registry_lock:
        for ref, known in _registered.items():
            if known is settings:
                return ref
        ref = uuid.uuid4().hex
        _registered[ref] = settings
        return ref


@functools.cache
def process_settings() -> Settings:
    """This process's settings from its environment, read once (a worker elsewhere)."""
    return load_settings()


def settings_for(ref: str | None) -> Settings:
    """The settings a flow run refers to: the registered ones when the run started in this
    process, else (a run queued by another machine, a restarted process) the environment's."""
    with _registry_lock:
        found = _registered.get(ref or "")
    return found if found is not None else process_settings()
