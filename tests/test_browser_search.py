"""The agencies' search page in a real browser (issue 29): a phrase found on page 2 ranks
first, search by the day on the receipt, a phone's first screen, saved searches, and a
day's dossiers downloaded at once after a confirmation.

Dossiers are recorded directly in the stores (their texts and signed PDFs written here),
so nothing depends on what this machine's OCR reads. Actions a person takes are counted
(clicks plus groups of keystrokes) and asserted, so the closing note's numbers hold.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from app.runner import BatchRunner
from app.service import create_app
from config import Settings
from flows import runtime
from flows.runtime import metadata_store, object_store
from models import BatchInfo, FieldInfo, PageInfo, Role
from storage import keys
from tests.service_support import live_server, run_steps

# Skips the module (fails it, under SOHOA_REQUIRE_BROWSER=1) without Playwright or Chromium.
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Browser,
    BrowserContext,
    Page,
    check_page,
    internal_words,
    sync_playwright,
)

pytestmark = pytest.mark.slow

AGENCY_A, AGENCY_B = "000.00.00.H49", "000.17.22.H56"
PHONE = {"width": 390, "height": 844}
# (id, agency, code, name, text: pages split by form feeds)
DOSSIERS = [
    ("s-scatter", AGENCY_A, "000.00.00.H49-260301-0001", "Nguyễn Văn Bình",
     "Giấy tiếp nhận hồ sơ. Nội dung: cấp lại phiếu. Cục thuế. Cảnh báo: sát hạn\fTrang hai"),
    ("s-phrase", AGENCY_A, "000.00.00.H49-260305-0002", "Trần Thị Hoa",
     "Giấy tiếp nhận hồ sơ\fCăn cước công dân, nơi cấp: Cục Cảnh sát quản lý hành chính"),
    ("s-other", AGENCY_A, "000.00.00.H49-260305-0003", "Lê Văn Cường",
     "Đơn đề nghị cấp phiếu lý lịch tư pháp"),
    ("s-foreign", AGENCY_B, "000.17.22.H56-260305-0001", "Phạm Thị Dung",
     "Căn cước công dân, nơi cấp: Cục Cảnh sát quản lý hành chính"),
]  # fmt: skip
# The day every search below asks for by its receipt: two of agency A's dossiers.
PAPER_DAY = "2026-03-05"


def blank_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (70, 99), "white").save(out, "JPEG")
    return out.getvalue()


def pdf_of(dossier_id: str) -> bytes:
    return b"%PDF-1.7\n% signed copy of " + dossier_id.encode() + b"\n%%EOF\n"


@dataclass
class SearchWorld:
    base_url: str
    browser: Browser
    tokens: dict[str, str]
    contexts: list[BrowserContext] = field(default_factory=list)

    def sign_in(self, who: str, path: str, viewport: dict[str, int] | None = None) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            accept_downloads=True,
            viewport=viewport or {"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(path)
        page.click("#login-token summary")
        page.fill("input[name=token]", self.tokens[who])
        page.click("#login-token button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        return page


@pytest.fixture(scope="module")
def search_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchWorld]:
    root = tmp_path_factory.mktemp("search-browser")
    runtime.reset()
    settings = Settings(data_dir=root / "data", workers=1)
    runner = BatchRunner(settings, run=run_steps)
    app = create_app(settings, runner=runner)
    server = ExitStack()
    base_url = server.enter_context(live_server(app))
    meta = metadata_store(settings)
    objects = object_store(settings)
    tokens = {}
    for label, agency in (("agency_a", AGENCY_A), ("agency_b", AGENCY_B)):
        _info, token = meta.create_token(name=f"Sở {label[-1].upper()}", role=Role.AGENCY,
                                         agency_code=agency)  # fmt: skip
        tokens[label] = token
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # uploaded days after the receipts' day
    for agency in (AGENCY_A, AGENCY_B):
        meta.create_batch(BatchInfo(f"b-{agency}", at, "vie", 4, agency_code=agency))
    for n, (dossier_id, agency, code, name, text) in enumerate(DOSSIERS):
        meta.add_dossier(dossier_id, f"b-{agency}", n, f"{dossier_id}.pdf")
        objects.put_bytes(keys.text_key(dossier_id), text.encode())
        objects.put_bytes(keys.pdf_key(dossier_id), pdf_of(dossier_id))
        pages = [PageInfo(i, 700, 990, 100) for i in range(text.count("\f") + 1)]
        for page in pages:
            objects.put_bytes(keys.page_image_key(dossier_id, page.index), blank_jpeg())
        meta.mark_archived(
            dossier_id,
            pages=pages,
            fields=[
                FieldInfo("dossier_code", code, "qr", 0.99),
                FieldInfo("full_name", name, "qr", 0.99),
                FieldInfo("procedure", "lltp", "ocr", 0.9),
            ],
            text=text,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        world = SearchWorld(base_url, browser, tokens)
        try:
            yield world
        finally:
            for context in world.contexts:
                context.close()
            browser.close()
            server.close()
            runner.shutdown(wait=True)
            runtime.reset()


def go(page: Page, selector: str) -> None:
    """Click something that loads another page, and wait for it to load."""
    with page.expect_navigation(wait_until="load"):
        page.click(selector)


def result_codes(page: Page) -> list[str]:
    return [
        link.get_attribute("aria-label") or ""
        for link in page.locator("#results tbody tr td:first-child a").all()
    ]


def test_phrase_search_finds_page_two_first(search_world: SearchWorld) -> None:
    page = search_world.sign_in("agency_a", "/search")
    actions = 0
    page.fill("#s-text", "noi cap cuc canh sat")  # typed without diacritics or quotes
    actions += 1
    go(page, "form.search button[type=submit]")
    actions += 1
    codes = result_codes(page)
    assert codes[0] == "000.00.00.H49-260305-0002", codes
    assert "000.00.00.H49-260305-0003" not in codes  # every word must match
    assert "000.17.22.H56-260305-0001" not in codes  # another agency's, never shown
    first = page.locator("#results tbody tr").first
    assert first.locator(".snippet-page").inner_text() == "trang 2:"
    assert first.locator(".snippet mark").all_inner_texts() == ["nơi cấp: Cục Cảnh sát"]
    href = first.locator("td:first-child a").get_attribute("href")
    assert href == "/dossiers/s-phrase?page=2"
    # The link opens the dossier on that page.
    go(page, "#results tbody tr:first-child td:first-child a")
    assert page.locator('figure.page[data-number="2"]').is_visible()
    assert not page.locator('figure.page[data-number="1"]').is_visible()
    page.go_back()
    # Quoted: the phrase only.
    page.fill("#s-text", '"cuc canh sat"')
    go(page, "form.search button[type=submit]")
    assert result_codes(page) == ["000.00.00.H49-260305-0002"]
    assert actions == 2
    check_page(page, "search-phrase", 1280, internal_words())


def test_search_by_the_day_on_the_receipt(search_world: SearchWorld) -> None:
    page = search_world.sign_in("agency_a", "/search")
    actions = 0
    page.click("#more-filters summary")
    page.fill("#s-paper", PAPER_DAY)  # one day; a range has its from and to
    go(page, "form.search button[type=submit]")
    actions += 3
    assert sorted(result_codes(page)) == [
        "000.00.00.H49-260305-0002",
        "000.00.00.H49-260305-0003",
    ]
    assert page.locator("#total").inner_text() == "2 hồ sơ"  # counts add up with the rows
    assert page.locator("#results .paper-day").all_inner_texts() == ["05/03/2026"] * 2
    assert page.locator("#more-filters").get_attribute("open") is not None  # kept open
    # A range from that day: the same two; to the day before: the other one.
    page.fill("#s-paper", "")
    page.fill("#s-paper-from", PAPER_DAY)
    go(page, "form.search button[type=submit]")
    assert len(result_codes(page)) == 2
    page.fill("#s-paper-from", "")
    page.fill("#s-paper-to", "2026-03-04")
    go(page, "form.search button[type=submit]")
    assert result_codes(page) == ["000.00.00.H49-260301-0001"]
    # The upload day is another field: nothing was uploaded on the receipt's day.
    page.fill("#s-paper-to", "")
    page.fill("#s-received", PAPER_DAY)
    go(page, "form.search button[type=submit]")
    assert page.locator("#no-results").is_visible()
    assert actions == 3
    # The API takes the same day, and the same ranking.
    answer = page.request.get(
        f"/api/dossiers?received_on_from={PAPER_DAY}&received_on_to={PAPER_DAY}"
        "&text=noi+cap+cuc+canh+sat&sort=relevance",
        headers={"Authorization": f"Bearer {search_world.tokens['agency_a']}"},
    )
    assert [d["dossier_id"] for d in answer.json()["dossiers"]] == ["s-phrase"]


def test_a_phone_sees_results_in_its_first_screen(search_world: SearchWorld) -> None:
    page = search_world.sign_in("agency_a", "/search?text=cuc+canh+sat", viewport=PHONE)
    box = page.locator("#results tbody tr").first.bounding_box()
    assert box is not None and box["y"] < PHONE["height"], box
    assert page.locator("#more-filters").get_attribute("open") is None  # folded
    assert page.locator("#s-text").is_visible()
    assert not page.locator("#s-name").is_visible()
    check_page(page, "search-phone", PHONE["width"], internal_words())


def test_saved_search_round_trip(search_world: SearchWorld) -> None:
    page = search_world.sign_in("agency_a", '/search?text="cuc+canh+sat"')
    actions = 0
    page.fill("#saved-name", "Căn cước do Cục Cảnh sát cấp")
    go(page, "#save-search button[type=submit]")
    actions += 2
    saved = page.locator("#saved-list a", has_text="Căn cước do Cục Cảnh sát cấp")
    assert saved.count() == 1
    page.goto("/search")
    go(page, "#saved-list a")  # later: one click runs it again
    actions += 1
    assert page.locator("#s-text").input_value() == '"cuc canh sat"'
    assert result_codes(page) == ["000.00.00.H49-260305-0002"]
    # Another agency's account does not see it.
    other = search_world.sign_in("agency_b", "/search")
    assert other.locator("#saved-list").count() == 0
    go(page, "#saved-list button")
    actions += 1
    assert page.locator("#saved-list").count() == 0
    assert actions == 4


def test_a_days_dossiers_download_after_a_confirmation(search_world: SearchWorld) -> None:
    page = search_world.sign_in("agency_a", f"/search?paper={PAPER_DAY}")
    actions = 0
    go(page, "#bulk-all")  # every result of this search
    actions += 1
    assert page.locator("#bulk-count").inner_text().startswith("Tải về 2 hồ sơ")
    with page.expect_download() as info:
        page.click("#bulk-go")
    actions += 1
    data = info.value.path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        assert names == ["000.00.00.H49-260305-0002.pdf", "000.00.00.H49-260305-0003.pdf"]
        assert archive.read(names[0]) == pdf_of("s-phrase")
    assert actions == 2
    # Ticked rows: only those; a foreign dossier's id is refused outright.
    page.goto("/search?text=cuc+canh+sat")
    page.check("#results tbody tr:first-child input.pick")
    go(page, "#bulk-chosen")
    assert page.locator("#bulk-list li").count() == 1
    response = page.request.post(
        "/search/download.zip",
        form={"ids": "s-foreign"},
        headers={"Origin": search_world.base_url},
    )
    assert response.status == 404
