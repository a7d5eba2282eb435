"""What the agencies' search page (issue 29, ``app.routes.agency_pages``) is made of: its
form read into a query, its saved searches' query strings, a dossier's text for a snippet,
and a zip of the chosen dossiers' signed PDFs, streamed."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

from fastapi import HTTPException

from app.auth import scoped_query
from app.i18n import Messages
from app.search_query import search_query
from app.snippets import TEXT_READ_BYTES
from app.views import download_name
from config import Settings
from flows.runtime import object_store
from models import Principal, SearchQuery
from models.dossier import DossierInfo
from models.errors import StorageError
from models.search import SORTS
from models.textfold import fold
from storage import keys

# "Every result of this search" downloads at most this many dossiers (one page of the API).
BULK_CAP = 200
# The search form's fields a saved search keeps (its query string holds nothing else).
SEARCH_KEYS = (
    "text", "name", "id_number", "code", "procedure", "received", "date_from", "date_to",
    "paper", "paper_from", "paper_to", "sort",
)  # fmt: skip
# Folded away on a phone (issue 29): set ones open the fold.
MORE_KEYS = SEARCH_KEYS[1:]


def procedure_id(messages: Messages, asked: str) -> str | None:
    """A procedure named by its id or by (part of) its name ("lý lịch" -> "lltp"); a text
    naming none is searched as it is (and finds nothing)."""
    asked = asked.strip()
    if not asked or asked in messages.procedures:
        return asked or None
    wanted = " ".join(fold(asked).split())
    named = [pid for pid, name in messages.procedures.items() if wanted in fold(name)]
    return named[0] if named else asked


def dossier_text(settings: Settings, dossier_id: str) -> str:
    """The start of a dossier's OCR text (for a search snippet), or "" if it has none."""
    read = bytearray()
    try:
        for chunk in object_store(settings).iter_chunks(keys.text_key(dossier_id)):
            read += chunk
            if len(read) >= TEXT_READ_BYTES:
                break
    except StorageError:
        return ""
    return read[:TEXT_READ_BYTES].decode("utf-8", errors="ignore")


def owner_of(principal: Principal) -> str:
    """Whose saved searches: a person's account, else the token's holder."""
    if principal.user_name:
        return f"user:{principal.user_name}"[:128]
    return f"token:{principal.token_id}"[:128]


def clean_query(raw: str) -> str:
    """A search page's query string with only the search form's fields, each once and
    within bounds: what a saved search or a download may carry back."""
    kept: dict[str, str] = {}
    for key, value in parse_qsl(raw[:2000], keep_blank_values=False):
        if key in SEARCH_KEYS and key not in kept and value.strip():
            kept[key] = value.strip()[:200]
    if kept.get("sort") not in (None, *SORTS):
        del kept["sort"]
    return urlencode(kept)


class _Sink:
    """A write-only file zipfile streams into: what it wrote is taken out between files."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def zip_pdfs(settings: Settings, dossiers: list[DossierInfo]) -> Iterator[bytes]:
    """The dossiers' signed PDFs as a zip, streamed a chunk at a time (never all in memory);
    each file named by its dossier code, a second of the same code numbered."""
    store = object_store(settings)
    sink = _Sink()
    names: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
        for dossier in dossiers:
            stem = download_name(dossier, "")
            name, n = f"{stem}.pdf", 1
            while name in names:
                n += 1
                name = f"{stem}-{n}.pdf"
            try:
                chunks = store.iter_chunks(keys.pdf_key(dossier.dossier_id))
                first = next(chunks, b"")
            except StorageError:
                continue  # no signed PDF (yet): nothing to put in
            names.add(name)
            with archive.open(name, "w") as member:
                member.write(first)
                for chunk in chunks:
                    member.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def build_query(
    principal: Principal, form: dict[str, str], messages: Messages, *, limit: int, offset: int
) -> SearchQuery:
    """The search form's query, in the principal's scope (an agency: its own archived
    dossiers); a bad field is a 422 naming it."""
    text = form.get("text", "")
    received = form.get("received", "")
    try:
        query = search_query(
            code=form.get("code"),
            id_number=form.get("id_number"),
            name=form.get("name"),
            procedure=procedure_id(messages, form.get("procedure", "")),
            text=text,
            received_from=received or form.get("date_from"),
            received_to=received or form.get("date_to"),
            # One day on the paper, or a range (as the upload's day and range).
            paper_from=form.get("paper") or form.get("paper_from"),
            paper_to=form.get("paper") or form.get("paper_to"),
            limit=limit,
            offset=offset,
            sort=form.get("sort") or ("relevance" if text else "newest"),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return scoped_query(principal, query)
