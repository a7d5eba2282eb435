"""The words on the service's pages, from one message catalogue per language.

``app/messages/<locale>.toml`` holds every status, page kind, field name, role and error the
pages show, and the date format; procedures are named by the procedure catalogue
(``config/procedures.toml``). Code never spells a word for the screen: it asks this module,
so another language is another catalogue file.

Nothing internal leaks through: a key the catalogue lacks is shown as the catalogue's
generic line (and logged once), never as itself; an error text from a library (poppler,
qpdf, Tesseract) is shown only when a catalogue pattern recognises it, in the catalogue's
words.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from config.catalogue import DEFAULT_CATALOGUE, Catalogue, load_catalogue
from pipeline.reasons import ReasonCode, parse_reason
from pipeline.validate import CorrectionRefusal

log = logging.getLogger("sohoa.service")

MESSAGES_DIR = Path(__file__).resolve().parent / "messages"
DEFAULT_LOCALE = "vi"
# {1}: a pattern's first group as it is; {f1}: the same group, a field name, in words.
_GROUP = re.compile(r"\{(f?)(\d)\}")
_warned: set[str] = set()
_REASON_CODES = frozenset(code.value for code in ReasonCode)
# {name}: a value put into a page's sentence (a count, a code, a date).
_PLACE = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Pattern:
    """A recognised text (regular expression) and the words shown for it."""

    match: re.Pattern[str]
    text: str

    def render(self, found: re.Match[str], fields: dict[str, str] | None = None) -> str:
        def group(g: re.Match[str]) -> str:
            value = found.group(int(g.group(2))) or ""
            return (fields or {}).get(value, value) if g.group(1) else value

        return _GROUP.sub(group, self.text)


@dataclass(frozen=True)
class Messages:
    locale: str
    sections: dict[str, dict[str, str]]
    notes: tuple[Pattern, ...]
    errors: tuple[Pattern, ...]
    events: tuple[Pattern, ...]
    procedures: dict[str, str]  # procedure id -> its name in the procedure catalogue
    zone: timezone
    date_format: str
    datetime_format: str

    # --- single words ---------------------------------------------------------------------

    def word(self, section: str, key: object, *, fallback: str = "unknown") -> str:
        """The catalogue's word for ``key`` in ``section``; a missing one is logged and
        shown as a generic line, never as the internal key itself."""
        if key is None or key == "":
            return self.text("none")
        name = str(key)
        found = self.sections.get(section, {}).get(name)
        if found is not None:
            return found
        if f"{section}.{name}" not in _warned:
            _warned.add(f"{section}.{name}")
            log.warning("message catalogue %s: no [%s] %r", self.locale, section, name)
        return self.text(fallback)

    def text(self, key: str) -> str:
        return self.sections.get("text", {}).get(key, key)

    def ui(self, key: str, **values: object) -> str:
        """A heading, label, button or hint of a page (section [ui]), its ``{name}``
        places filled with ``values``. A key the catalogue lacks is logged and shown as
        the generic line (tests check that every key a page uses is in the catalogue)."""
        return self.sentence("ui", key, **values)

    def sentence(self, section: str, key: str, **values: object) -> str:
        """Entry ``key`` of ``section`` with its ``{name}`` places filled with ``values``;
        a missing one logged and shown as the generic line, never as its key."""
        found = self.sections.get(section, {}).get(key)
        if found is None:
            return self.word(section, key)
        return _PLACE.sub(lambda m: str(values.get(m.group(1), m.group(0))), found)

    def paper(self, value: object) -> str:
        """The paper a value was read from (a QR, the receipt, the form ...)."""
        return self.word("paper", value)

    def status(self, value: object) -> str:
        return self.word("status", value)

    def kind(self, value: object) -> str:
        return self.word("kind", value)

    def field(self, value: object) -> str:
        return self.word("field", value)

    def source(self, value: object) -> str:
        return self.word("source", value)

    def role(self, value: object) -> str:
        return self.word("role", value)

    def procedure(self, value: object) -> str:
        """A procedure by its catalogue name; an id the catalogue lacks as typed (it is
        what the counter entered, not an internal word)."""
        if value is None or value == "":
            return self.text("none")
        return self.procedures.get(str(value), str(value))

    # --- sentences ------------------------------------------------------------------------

    def note(self, text: str | None, field: str | None = None) -> str:
        """A field note or review text ("p1 reads '...'; citizen ID ...") in words.

        A coded note ("<code>: <sentence>", pipeline/reasons.py) is its sentence, written in
        Vietnamese, or the catalogue's entry for the code (``{field}``: ``field`` in words);
        the code itself is never shown."""
        if not text:
            return ""
        code, sep, sentence = text.partition(": ")
        if sep and code in _REASON_CODES:
            coded = self.sections.get("review_code", {}).get(code)
            return coded.replace("{field}", self.field(field)) if coded else sentence
        return "; ".join(self._one_note(part.strip()) for part in text.split(";") if part.strip())

    def _one_note(self, text: str) -> str:
        for pattern in self.notes:
            found = pattern.match.search(text)
            if found:
                shown = pattern.render(found)
                places = self.sections.get("place", {})
                for place, words in places.items():
                    shown = shown.replace(place, words)
                return self._places(shown)
        if not text.isascii():
            # Already words for people (an operator's note, a Vietnamese check): as written.
            return text
        return self.text("review_generic")

    def _places(self, text: str) -> str:
        """Where a value was read, in words: "application form page 2" -> "Đơn đề nghị,
        trang 2"; "p2" -> "trang 2"."""
        kinds = self.sections.get("kind", {})
        page = self.text("page")

        def kind_page(found: re.Match[str]) -> str:
            kind = kinds.get(found.group(1).replace(" ", "_"))
            return f"{kind}, {page} {found.group(2)}" if kind else f"{page} {found.group(2)}"

        text = re.sub(r"\b([a-z]+(?: [a-z]+)?) page (\d+)\b", kind_page, text)
        return re.sub(r"\bp(\d+)\b", lambda m: f"{page} {m.group(1)}", text)

    def reason(self, reason: str) -> str:
        """A dossier's review reason: a catalogue code, or "<field>: <text>"."""
        coded = self.sections.get("review_reason", {}).get(reason)
        if coded is not None:
            return coded
        _field, code, sentence = parse_reason(reason)
        if code is not None:
            # "<field>: <code>: <sentence>" (pipeline/reasons.py): the sentence is written in
            # Vietnamese, naming the field and the paper that should have had the value; a
            # catalogue entry for the code (a second language) takes its place.
            coded = self.sections.get("review_code", {}).get(str(code))
            return coded.replace("{field}", self.field(_field)) if coded else sentence
        name, sep, rest = reason.partition(":")
        if sep and re.fullmatch(r"[a-z_]{1,64}", name):
            return f"{self.field(name)}: {self.note(rest.strip())}"
        return self.note(reason)

    def correction(self, refusal: CorrectionRefusal) -> str:
        """Why an operator's correction was refused, in words (``[correction]``); an ID's
        own check notes go in ``{details}``, in words as a review note's are."""
        words = self.sections.get("correction", {})
        text = words.get(refusal.code) or words.get("invalid") or self.text("error_generic")
        return text.replace("{details}", self.note("; ".join(refusal.details)))

    def error(self, message: str | None, *, file: str | None = None) -> str:
        """An error for a person: the file it names kept, the problem in the catalogue's
        words, or the generic line (raw library text never reaches the screen)."""
        if not message:
            return ""
        problem = message
        if file and problem.startswith(f"{file}: "):
            problem = problem[len(file) + 2 :]
        for pattern in self.errors:
            found = pattern.match.search(problem)
            if found:
                shown = pattern.render(found)
                break
        else:
            shown = self.text("error_generic")
        return f"{file}: {shown}" if file else shown

    def event(self, message: str | None) -> str:
        """A line of a dossier's history ("retry requested", "field x corrected ...")."""
        if not message:
            return ""
        if message.startswith("needs review: "):
            reasons = message.removeprefix("needs review: ").split("; ")
            return f"{self.text('review_generic')}: " + "; ".join(self.reason(r) for r in reasons)
        for pattern in self.events:
            found = pattern.match.search(message)
            if found:
                return pattern.render(found, self.sections.get("field", {}))
        return self.error(message)

    # --- dates ----------------------------------------------------------------------------

    def moment(self, value: str | datetime | None) -> str:
        """A moment as day and time in Vietnam (dd/mm/yyyy hh:mm)."""
        if value is None or value == "":
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone).strftime(self.datetime_format)

    def day(self, value: str | date | None) -> str:
        """A calendar date (dd/mm/yyyy); a field value that is no ISO date is shown as is."""
        if value is None or value == "":
            return ""
        if not isinstance(value, str):
            return value.strftime(self.date_format)
        try:
            return date.fromisoformat(value).strftime(self.date_format)
        except ValueError:
            return value

    def field_value(self, name: str, value: str | None) -> str:
        """A field's value as people write it: dates dd/mm/yyyy, procedure by its name."""
        if value is None:
            return ""
        if name.startswith("date") or name.endswith("_date"):
            return self.day(value)
        if name == "procedure":
            return self.procedure(value)
        return value

    def script_words(self) -> dict[str, str]:
        """What the pages' scripts write, with the status words they show."""
        return {
            **self.sections.get("script", {}),
            **{f"status_{key}": value for key, value in self.sections["status"].items()},
            "error_generic": self.text("error_generic"),
        }

    def internal_keys(self) -> set[str]:
        """Every internal name the catalogue translates: none may be seen on a page."""
        keys: set[str] = set()
        for section in ("status", "kind", "field", "source", "role", "review_reason"):
            keys.update(k for k in self.sections.get(section, {}) if len(k) > 1)
        keys.update(_REASON_CODES)
        return keys


def parse_messages(text: str, *, locale: str, catalogue: Catalogue) -> Messages:
    data: dict[str, Any] = tomllib.loads(text)
    sections = {
        name: {str(k): str(v) for k, v in value.items()}
        for name, value in data.items()
        if isinstance(value, dict)
    }
    for required in ("status", "kind", "field", "role", "text", "ui", "script"):
        if required not in sections:
            raise ValueError(f"message catalogue {locale}: no [{required}] section")

    def patterns(name: str) -> tuple[Pattern, ...]:
        return tuple(
            Pattern(re.compile(entry["match"], re.IGNORECASE), str(entry["text"]))
            for entry in data.get(name, [])
        )

    form = data.get("format", {})
    return Messages(
        locale=locale,
        sections=sections,
        notes=patterns("note"),
        errors=patterns("error"),
        events=patterns("event"),
        procedures={p.procedure_id: p.name for p in catalogue.procedures},
        zone=timezone(timedelta(hours=float(form.get("utc_offset_hours", 7)))),
        date_format=str(form.get("date", "%d/%m/%Y")),
        datetime_format=str(form.get("datetime", "%d/%m/%Y %H:%M")),
    )


@lru_cache(maxsize=4)
def load_messages(
    locale: str = DEFAULT_LOCALE, catalogue_path: Path = DEFAULT_CATALOGUE
) -> Messages:
    if not re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", locale):
        raise ValueError(f"not a locale name: {locale!r}")
    path = MESSAGES_DIR / f"{locale}.toml"
    return parse_messages(
        path.read_text(encoding="utf-8"), locale=locale, catalogue=load_catalogue(catalogue_path)
    )
