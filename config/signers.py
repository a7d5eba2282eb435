"""Who signs the digitised copies: one PKCS#12 per counter's digitiser (TT 01/2023/TT-VPCP Art. 8).

Two ways to configure it, never both:

* ``SOHOA_SIGNERS_FILE``: a TOML file for a post office with several counters::

      [default]                       # counters not listed below, and batches with no counter
      name = "Nguyễn Thị Thu Hằng"    # shown on the stamp: the person who digitises
      pkcs12 = "keys/hang.p12"        # relative paths are relative to this file
      password_file = "/run/secrets/hang.pw"
      location = "Bưu điện tỉnh Quảng Ninh"

      [counters."QN-HL-01"]
      name = "Trần Văn Bình"
      pkcs12 = "keys/binh.p12"
      password_env = "SOHOA_PW_QN_HL_01"   # the variable's name, not the password

* ``SOHOA_SIGNING_PKCS12`` + ``SOHOA_DIGITISER_NAME`` (+ ``SOHOA_SIGNING_PASSWORD_FILE``):
  one machine, one person; it acts as the ``default`` entry.

Passwords are never held here: a :class:`Signer` knows where its password is and reads it
only when a copy is signed (:meth:`Signer.password`), so no settings object, log line or
repr can carry it, and a rotated password file is picked up without a restart.
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import ExitCode, SohoaError

if TYPE_CHECKING:
    from config.settings import Settings

_SIGNER_KEYS = {"name", "pkcs12", "password_file", "password_env", "location"}


class SignerConfigError(SohoaError):
    """The signing configuration is unusable: a settings problem (exit code 2)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Signer:
    name: str  # the digitiser, as the stamp and the XMP show it (NFC)
    pkcs12: Path
    password_file: Path | None = None
    password_env: str | None = None  # name of an environment variable holding the password
    location: str | None = None
    origin: str = ""  # where this entry was configured, for messages

    def password(self) -> bytes | None:
        """The PKCS#12 password, read now; None when the file has none configured."""
        if self.password_file is not None:
            try:
                text = self.password_file.read_bytes()
            except OSError as exc:
                raise SignerConfigError(
                    f"{self.password_file}: cannot read the PKCS#12 password file "
                    f"({exc.strerror or exc}) for {self.origin}"
                ) from None
            # `echo secret > file` leaves a newline the password does not contain.
            return text.rstrip(b"\r\n")
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise SignerConfigError(
                    f"{self.origin}: environment variable {self.password_env} "
                    "(the PKCS#12 password) is not set"
                )
            return value.encode("utf-8")
        return None


@dataclass(frozen=True)
class Signers:
    default: Signer | None = None
    counters: tuple[tuple[str, Signer], ...] = ()
    source: str = ""  # the signers file, or the settings that made the single signer

    def for_counter(self, counter_id: str | None) -> Signer | None:
        """The counter's own signer, else the default one, else None."""
        if counter_id is not None:
            for known, signer in self.counters:
                if known == counter_id:
                    return signer
        return self.default

    @property
    def configured(self) -> bool:
        return self.default is not None or bool(self.counters)


NO_SIGNERS = Signers()


def _text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SignerConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _signer(entry: object, where: str, base: Path) -> Signer:
    if not isinstance(entry, dict):
        raise SignerConfigError(f"{where}: expected a table with name and pkcs12")
    unknown = sorted(set(entry) - _SIGNER_KEYS)
    if unknown:
        raise SignerConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_SIGNER_KEYS))})"
        )
    name = _text(entry, "name", where)
    pkcs12 = _text(entry, "pkcs12", where)
    if name is None or pkcs12 is None:
        raise SignerConfigError(f"{where}: needs both name and pkcs12")
    password_file = _text(entry, "password_file", where)
    password_env = _text(entry, "password_env", where)
    if password_file is not None and password_env is not None:
        raise SignerConfigError(f"{where}: give password_file or password_env, not both")
    return Signer(
        name=unicodedata.normalize("NFC", " ".join(name.split())),
        pkcs12=(base / pkcs12).expanduser(),
        password_file=(base / password_file).expanduser() if password_file else None,
        password_env=password_env,
        location=_text(entry, "location", where),
        origin=where,
    )


def parse_signers(text: str, path: Path) -> Signers:
    """Parse the signers file's ``text``; ``path`` names it in errors and anchors its paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SignerConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"default", "counters"})
    if unknown:
        raise SignerConfigError(
            f"{path}: unknown table [{unknown[0]}] (expected [default] and [counters.ID])"
        )
    base = path.parent
    default = _signer(data["default"], f"{path} [default]", base) if "default" in data else None
    counters_table = data.get("counters", {})
    if not isinstance(counters_table, dict):
        raise SignerConfigError(f"{path}: counters must be tables [counters.ID]")
    counters = tuple(
        (str(counter), _signer(entry, f"{path} [counters.{counter}]", base))
        for counter, entry in counters_table.items()
    )
    if default is None and not counters:
        raise SignerConfigError(f"{path}: no signer: add [default] or [counters.ID]")
    return Signers(default=default, counters=counters, source=str(path))


@lru_cache(maxsize=8)
def load_signers_file(path: Path) -> Signers:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignerConfigError(f"{path}: signers file not found (SOHOA_SIGNERS_FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SignerConfigError(f"{path}: cannot read the signers file ({exc})") from None
    return parse_signers(text, path)


def signers_from_settings(settings: Settings) -> Signers:
    """The signers the settings describe (the file is read once per process)."""
    if settings.signers_file is not None:
        if settings.signing_pkcs12 is not None:
            raise SignerConfigError("set SOHOA_SIGNERS_FILE or SOHOA_SIGNING_PKCS12, not both")
        return load_signers_file(settings.signers_file.expanduser().resolve())
    if settings.signing_pkcs12 is None:
        if settings.signing_password_file is not None:
            raise SignerConfigError(
                "SOHOA_SIGNING_PASSWORD_FILE is set but SOHOA_SIGNING_PKCS12 is not"
            )
        return NO_SIGNERS
    name = " ".join(settings.digitiser_name.split())
    if not name:
        raise SignerConfigError(
            "SOHOA_SIGNING_PKCS12 needs SOHOA_DIGITISER_NAME (the name shown on the stamp)"
        )
    signer = Signer(
        name=unicodedata.normalize("NFC", name),
        pkcs12=settings.signing_pkcs12.expanduser(),
        password_file=(
            settings.signing_password_file.expanduser() if settings.signing_password_file else None
        ),
        origin="SOHOA_SIGNING_PKCS12",
    )
    return Signers(default=signer, source="SOHOA_SIGNING_PKCS12")
