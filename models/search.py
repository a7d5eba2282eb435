"""What a dossier search asks and what it answers, shared by the CLI and the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from models.dossier import DossierInfo, DossierStatus
from models.textfold import fold

MAX_PAGE_SIZE = 200
# Deeper pages cost a scan of every row skipped; past this, narrow the search instead.
MAX_OFFSET = 100_000
# Full-text search: every word is one more condition (SQLite: one more LIKE over every
# stored text); a query is a few words someone typed, not a document.
MAX_TEXT_WORDS = 20
MAX_TEXT_CHARS = 200
# "relevance": the best text match first (only with a text query; else newest first).
SORTS = ("newest", "oldest", "code", "name", "relevance")
# A total is counted up to this many matches; past it a page says "more than".
COUNT_CAP = 1000
VIETNAM = timezone(timedelta(hours=7))  # dossiers are received, and days counted, here


def received_day(text: str, *, end: bool) -> datetime:
    """A search bound: YYYY-MM-DD is a whole day in Vietnam's time zone (``end``: the
    moment it ends); a full ISO timestamp is taken as given (Vietnam's zone if none)."""
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=VIETNAM)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)


@dataclass(frozen=True)
class SearchQuery:
    """Every criterion is optional; the ones given must all match.

    ``name`` and ``text`` match without diacritics ("nguyen van a" finds "Nguyễn Văn A");
    a name, an ID number and a code match by any part ("lan" finds Đặng Ngọc Hồng Lan,
    "0301" the code ending in it).
    ``agency_code`` doubles as the scope of an agency's account: it is always set for them.
    """

    dossier_code: str | None = None  # a whole code, or any part of it
    id_number: str | None = None  # CCCD (12 digits), old CMND (9 digits), or a part
    name: str | None = None
    procedure: str | None = None
    agency_code: str | None = None
    received_from: datetime | None = None  # inclusive
    received_to: datetime | None = None  # exclusive
    text: str | None = None  # words anywhere in the OCR text; "quoted words": a phrase
    # The day the one-stop desk received it, as its dossier code says (YYMMDD), inclusive;
    # not the upload time (received_from/received_to).
    paper_from: date | None = None
    paper_to: date | None = None
    status: DossierStatus | None = None
    batch_id: str | None = None
    needs_review: bool | None = None
    limit: int = 20
    offset: int = 0
    sort: str = "newest"  # one of SORTS

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValueError(f"offset must be between 0 and {MAX_OFFSET}")
        if self.text is not None:
            check_text_query(self.text)


def check_text_query(text: str) -> str:
    """The words of a full-text query, bounded: ValueError names the bound passed."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text: at most {MAX_TEXT_CHARS} characters")
    if len(text.split()) > MAX_TEXT_WORDS:
        raise ValueError(f"text: at most {MAX_TEXT_WORDS} words")
    return text


def _tokens(text: str) -> list[str]:
    """Folded words: letters and digits; everything else separates (as stored texts do)."""
    return "".join(c if c.isalnum() else " " for c in fold(text)).split()


@dataclass(frozen=True)
class TextQuery:
    """A full-text query taken apart: every word must match (``words``, all of them, in
    and out of quotes), and each quoted part as a phrase (``phrases``). ``hint``: the
    whole unquoted query as a phrase, which ranks first when it is found as one.

    Parsed in one pass over at most MAX_TEXT_CHARS characters: no regular expression.
    """

    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    hint: tuple[str, ...] | None

    @property
    def wanted_phrases(self) -> tuple[tuple[str, ...], ...]:
        """The phrases a snippet marks: the quoted ones, else the hint."""
        return self.phrases or ((self.hint,) if self.hint else ())


def parse_text_query(text: str) -> TextQuery:
    """``noi cap "cuc canh sat"`` -> words noi, cap, cuc, canh, sat; phrase cuc canh sat.
    An unclosed quote runs to the end. Words repeated count once."""
    check_text_query(text)
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    for n, part in enumerate(text.split('"')):
        tokens = _tokens(part)
        for token in tokens:
            if token not in words:
                words.append(token)
        if n % 2 == 1 and len(tokens) > 1 and tuple(tokens) not in phrases:
            phrases.append(tuple(tokens))
    quoted = '"' in text
    every = tuple(_tokens(text))
    hint = every if not quoted and len(every) > 1 else None
    return TextQuery(tuple(words[:MAX_TEXT_WORDS]), tuple(phrases), hint)


@dataclass(frozen=True)
class SearchPage:
    """One page of results, newest first. ``has_more``: another page follows.

    No total count: counting a broad match over a million rows costs more than the page.
    """

    items: tuple[DossierInfo, ...]
    limit: int
    offset: int
    has_more: bool
