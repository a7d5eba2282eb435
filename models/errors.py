"""One exception hierarchy for all of sohoa, each class with its process exit code.

Messages are written for the person at the counter: one line naming the file and the
problem. ``app.cli`` is the one place that turns them into output and exit codes.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    BAD_INPUT = 3
    DOSSIER_FAILED = 4
    NOT_FOUND = 5
    STORAGE = 6
    OCR_ENGINE = 7
    INTEGRITY = 8  # `sohoa verify`: an archived object, manifest or signature does not match
    INTERRUPTED = 130


class SohoaError(Exception):
    """Base of every error sohoa raises on purpose."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str) -> None:
        # Collapse to one line: a multi-line error in a counter log is an error nobody reads.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadInputError(SohoaError):
    """The file itself is unusable: empty, corrupt, encrypted, unsupported, too large."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class OcrEngineError(SohoaError):
    """Tesseract is missing, lacks a language, crashed or timed out."""

    exit_code = ExitCode.OCR_ENGINE


class OcrTimeoutError(OcrEngineError):
    pass


class PageTimeoutError(SohoaError):
    """A page's steps together ran past SOHOA_PAGE_TIMEOUT_S (issue 31): that page fails,
    the batch goes on. Not retried: a hostile page is as slow the second time."""

    exit_code = ExitCode.BAD_INPUT


class StorageError(SohoaError):
    exit_code = ExitCode.STORAGE


class ObjectNotFoundError(StorageError):
    exit_code = ExitCode.NOT_FOUND


class DossierNotFoundError(SohoaError):
    exit_code = ExitCode.NOT_FOUND

    def __init__(self, dossier_id: str) -> None:
        self.dossier_id = dossier_id
        super().__init__(f"no dossier with id {dossier_id!r}")


class TokenNotFoundError(SohoaError):
    exit_code = ExitCode.NOT_FOUND

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        super().__init__(f"no access token with id {token_id!r} (see `sohoa token list`)")


class AccountNotFoundError(SohoaError):
    exit_code = ExitCode.NOT_FOUND

    def __init__(self, user_name: str) -> None:
        self.user_name = user_name
        super().__init__(f"no account named {user_name!r} (see `sohoa user list`)")


class SigningError(SohoaError):
    """The copy could not be signed (environment: fonts, unreadable input)."""


class NotSignedError(BadInputError):
    """The PDF carries no signature at all (for a verifier: "unsigned", not "broken")."""


class SigningCredentialError(SigningError):
    """The counter's PKCS#12: missing, wrong password, no key, expired or not yet valid."""

    exit_code = ExitCode.USAGE


def library_problem(exc: BaseException, path: Path, shown: str) -> str:
    """The first line of a library's error about ``path``, naming ``shown`` instead.

    qpdf, PIL and poppler put the path they were given in their messages: that is our
    working copy (``work/2026…-001/original.pdf``), a name the clerk never gave and a path
    no user should see. The message keeps what went wrong and names the user's file.
    """
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    for form in (f"{path}: ", f"'{path}'", f'"{path}"', str(path), f"{path.name}: "):
        text = text.replace(form, "" if form.endswith(": ") else shown)
    return text
