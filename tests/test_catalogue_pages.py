"""Every word on the pages comes from the message catalogue: the templates and scripts hold
none of their own, every key they use exists, none in the catalogue is unused, and with
another catalogue (English) not one Vietnamese word of the pages' own is left."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from app.i18n import MESSAGES_DIR, load_messages
from config import Settings
from flows.runtime import metadata_store
from models import DossierStatus, FieldInfo
from pipeline.reasons import PAPER_NAMES_VI
from tests.service_support import AGENCY_A, World, open_world

APP = Path(__file__).resolve().parents[1] / "app"
TEMPLATES = sorted((APP / "templates").glob("*.html"))
SCRIPTS = sorted((APP / "static").glob("*.js"))
# A page word in a template or in Python: ui("key", ...) / messages.ui("key").
UI_CALL = re.compile(r"""\bui\(\s*["']([a-z_]+)["']""")
# A script's word: say("key", ...) or words.key.
SCRIPT_WORD = re.compile(r"""\bsay\(\s*"([a-z_]+)"|\bwords\.([a-z_]+)""")


def _catalogue(locale: str) -> dict[str, Any]:
    return tomllib.loads((MESSAGES_DIR / f"{locale}.toml").read_text(encoding="utf-8"))


def _letters_of_no_ascii(text: str) -> list[str]:
    """Letters outside ASCII: every Vietnamese word has one (ă â đ ê ô ơ ư or a tone mark)."""
    return sorted({ch for ch in text if ch.isalpha() and not ch.isascii()})


def _without_comments(text: str, *, script: bool) -> str:
    if script:
        return re.sub(r"^\s*//.*$|\s//\s.*$", "", text, flags=re.MULTILINE)
    return re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)


def test_templates_and_scripts_hold_no_words_of_their_own() -> None:
    for path in [*TEMPLATES, *SCRIPTS]:
        code = _without_comments(path.read_text(encoding="utf-8"), script=path.suffix == ".js")
        assert _letters_of_no_ascii(code) == [], f"{path.name} spells words itself"


def test_every_key_the_pages_use_is_in_the_catalogue_and_every_key_is_used() -> None:
    used = set()
    for path in [*TEMPLATES, *APP.rglob("*.py")]:
        used |= set(UI_CALL.findall(path.read_text(encoding="utf-8")))
    catalogue = _catalogue("vi")
    assert sorted(used - set(catalogue["ui"])) == [], "used by a page, missing in vi.toml"
    assert sorted(set(catalogue["ui"]) - used) == [], "in vi.toml [ui], used by no page"

    script_used = set()
    for path in SCRIPTS:
        for said, word in SCRIPT_WORD.findall(path.read_text(encoding="utf-8")):
            script_used.add(said or word)
    handed = set(load_messages("vi").script_words())
    assert sorted(script_used - handed) == [], "a script's word the page does not hand it"
    assert sorted(set(catalogue["script"]) - script_used) == [], "in [script], used by no script"
    # Every paper the extraction names has its words.
    assert set(PAPER_NAMES_VI) <= set(catalogue["paper"])


def test_the_english_catalogue_has_every_key_of_the_vietnamese_one() -> None:
    vi, en = _catalogue("vi"), _catalogue("en")
    for section, words in vi.items():
        if isinstance(words, dict):
            assert sorted(set(words) - set(en.get(section, {}))) == [], f"en lacks [{section}]"
        else:
            matches = [entry["match"] for entry in words]
            assert [entry["match"] for entry in en[section]] == matches, f"en [[{section}]]"
    english = load_messages("en")
    assert english.ui("total", n=3) == "3 dossiers"
    assert english.status("archived") == "Archived"
    assert english.reason("phone: missing: không tìm thấy số điện thoại trên tờ khai") == (
        "Phone: not found on the papers that should carry it"
    )
    assert _letters_of_no_ascii(json.dumps(english.script_words(), ensure_ascii=False)) == []


def test_a_key_the_catalogue_lacks_is_never_shown_as_itself() -> None:
    messages = load_messages("vi")
    assert messages.ui("no_such_key") == messages.text("unknown")
    assert messages.ui("batch_title", id="b-1") == "Lô b-1"
    assert messages.ui("batch_title") == "Lô {id}"  # a value not given stays visible


# --- every page rendered under the English catalogue ---------------------------------------


class _Visible(HTMLParser):
    """What a person sees or hears of a page: text, and the words of alt, title,
    aria-label and placeholder attributes; the scripts' words (body data-words, JSON)."""

    SPOKEN: ClassVar[set[str]] = {"alt", "title", "aria-label", "placeholder"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.words_block: str | None = None
        self.lang: str | None = None
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        self._in = tag if tag in ("script", "style") else None
        if tag == "body":
            self.words_block = found.get("data-words")
        self.parts += [v for k, v in attrs if k in self.SPOKEN and v]

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is None:
            self.parts.append(data)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        yield from (part.strip() for part in value.split(";"))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture(scope="module")
def english_world(
    tmp_path_factory: pytest.TempPathFactory, samples_dir: Path
) -> Iterator[tuple[World, dict]]:
    root = tmp_path_factory.mktemp("english")
    settings = Settings(data_dir=root / "data", workers=2, locale="en")
    with open_world(settings) as world:
        response = world.upload("counter", [samples_dir / "page.jpg"], agency=AGENCY_A)
        assert response.status_code == 202, response.text
        batch = response.json()
        world.runner.wait(batch["batch_id"], timeout=600)
        dossier_id = batch["dossiers"][0]["dossier_id"]
        meta = metadata_store(settings)
        info = meta.get_dossier(dossier_id)
        assert info.status is DossierStatus.ARCHIVED, info.error
        # A name waiting for review (the sample page is no form: it has no fields), so the
        # review desk shows a whole item.
        flagged = FieldInfo("full_name", "Nguyễn Thị Mẩy", "ocr", 0.41, True, "low OCR confidence")
        meta.mark_archived(
            dossier_id,
            fields=[*info.field_details, flagged],
            review_reasons=["full_name: low OCR confidence"],
        )
        yield world, {"batch_id": batch["batch_id"], "dossier_id": dossier_id}


@pytest.mark.slow
def test_every_page_under_the_english_catalogue_shows_no_vietnamese_of_its_own(
    english_world: tuple[World, dict],
) -> None:
    world, made = english_world
    dossier_id, batch_id = made["dossier_id"], made["batch_id"]
    operator = world.auth("operator")
    # The citizens' papers and the procedures' official names are data, in Vietnamese in
    # any language: taken off the page before looking.
    data = set(load_messages("en").procedures.values())
    for path in (f"/api/dossiers/{dossier_id}", "/api/review", f"/api/batches/{batch_id}"):
        answer = world.client.get(path, headers=operator)
        assert answer.status_code == 200, path
        data |= set(_strings(answer.json()))
    walks = {
        None: ["/login"],
        "counter": ["/upload", f"/upload?batch={batch_id}"],
        "agency_a": ["/search", f"/dossiers/{dossier_id}", "/dossiers/no-such-dossier"],
        "operator": ["/ops", "/ops/review", f"/ops/batches/{batch_id}", f"/dossiers/{dossier_id}"],
    }
    seen = 0
    for who, paths in walks.items():
        world.client.cookies.clear()
        if who:
            assert world.sign_in(who).status_code == 303
        for path in paths:
            page = world.client.get(path)
            assert page.status_code in (200, 404), path
            visible = _Visible()
            visible.feed(page.text)
            assert visible.lang == "en", path
            assert visible.words_block is not None, path
            text = " ".join(visible.parts)
            for value in sorted((d for d in data if d), key=len, reverse=True):
                text = text.replace(value, " ")
            left = _letters_of_no_ascii(text)
            assert left == [], f"{who} {path}: Vietnamese left on an English page {left}: {text}"
            assert _letters_of_no_ascii(json.loads(visible.words_block).__repr__()) == []
            seen += 1
    assert seen == 10
    world.client.cookies.clear()
