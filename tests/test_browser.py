"""The web pages in a real browser: headless Chromium driven by Playwright.

The real app runs under uvicorn on 127.0.0.1 (one server for the module; batches are
processed by the flow's steps in-process, without Prefect). Every test drives the pages as a
person would (sign in with a token, choose or drop files, type in forms, click) and asserts
what that person sees, then checks the stores behind it.

Never downloads a browser: Debian's Chromium at /usr/bin/chromium is used. Without it the
module is skipped, unless SOHOA_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import base64
import os
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_REQUIRED = os.environ.get("SOHOA_REQUIRE_BROWSER") == "1"

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the environment
    _reason = f"BROWSER TESTS NOT RUN: the playwright package is missing ({exc})"
    if _REQUIRED:
        pytest.fail(_reason + " and SOHOA_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

if not CHROMIUM.exists():  # pragma: no cover - depends on the environment
    _reason = (
        f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM} (apt-get install chromium); "
        "set SOHOA_REQUIRE_BROWSER=1 to make this a failure"
    )
    if _REQUIRED:
        pytest.fail(_reason.replace("; set", ", and") + " is set", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

import httpx  # noqa: E402

from app.runner import BatchRunner  # noqa: E402
from app.service import create_app  # noqa: E402
from config import Settings  # noqa: E402
from flows import runtime  # noqa: E402
from flows.runtime import metadata_store, object_store  # noqa: E402
from models import BatchInfo, DossierStatus, FieldInfo, FieldState, Role  # noqa: E402
from models.search import VIETNAM  # noqa: E402
from storage import keys  # noqa: E402
from tests import dossiers  # noqa: E402
from tests.service_support import live_server, run_steps  # noqa: E402

pytestmark = pytest.mark.slow

AGENCY_A, AGENCY_B = "000.00.00.H49", "000.17.22.H56"
# People's names as an account shows them (never one of the catalogue's internal words).
USER_NAMES = {
    "counter": "Quầy Hạ Long 1",
    "counter2": "Quầy Hạ Long 2",
    "agency_a": "Sở Tư pháp Quảng Ninh",
    "agency_b": "Sở Tư pháp Hậu Giang",
    "operator": "Điều hành viên Lan",
}
PROCESS_TIMEOUT_S = 120
UI_TIMEOUT_MS = 90_000  # a page's OCR on a busy 2-core machine, with margin


@dataclass
class Receipt:
    """A scanned receipt uploaded for agency A (and its ground truth)."""

    path: Path
    truth: dossiers.DossierTruth
    mime: str = "image/jpeg"
    dossier_id: str = ""


@dataclass
class World:
    settings: Settings
    base_url: str
    runner: BatchRunner
    browser: Browser
    tokens: dict[str, str]
    token_ids: dict[str, str]
    receipts: list[Receipt]
    batch_id: str
    contexts: list[BrowserContext] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)  # what the policy blocked
    _ready: bool = False

    def ready(self) -> list[Receipt]:
        """The fixture's receipts, archived (the first as it came; the second flagged)."""
        if not self._ready:
            self.runner.wait(self.batch_id, timeout=PROCESS_TIMEOUT_S)
            meta = metadata_store(self.settings)
            for receipt in self.receipts:
                info = meta.get_dossier(receipt.dossier_id)
                assert info.status is DossierStatus.ARCHIVED, info.error
            flag_full_name(self.settings, self.receipts[1].dossier_id)
            self._ready = True
        return self.receipts

    def sign_in(self, who: str, path: str, *, width: int = 1280) -> Page:
        """A new browser (own cookie jar) opens `path`, is sent to sign in, pastes its token."""
        context = self.browser.new_context(
            base_url=self.base_url,
            accept_downloads=True,
            viewport={"width": width, "height": 900},
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                self.csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(path)
        assert "/login" in page.url, page.url  # not signed in yet: the sign-in page
        assert page.locator("h1").inner_text() == "Đăng nhập"
        # Machines' token sign-in sits behind a disclosure, below people's name and password.
        page.click("#login-token summary")
        page.fill("input[name=token]", self.tokens[who])
        page.click("#login-token button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        return page


def flag_full_name(settings: Settings, dossier_id: str) -> None:
    """Mark the name as uncertain, as extraction does for a low-confidence read."""
    meta = metadata_store(settings)
    info = meta.get_dossier(dossier_id)
    fields = [
        FieldInfo(f.name, f.value, f.source, 0.41, True, "độ tin cậy OCR thấp")
        if f.name == "full_name"
        else f
        for f in info.field_details
    ]
    assert any(f.needs_review for f in fields), "the receipt had no name to flag"
    meta.mark_archived(dossier_id, fields=fields, review_reasons=["full_name: low OCR confidence"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("browser")
    runtime.reset()
    settings = Settings(data_dir=root / "data", workers=2)
    runner = BatchRunner(settings, run=run_steps)
    app = create_app(settings, runner=runner)
    # The server lives as long as the module's tests (closed after the browser, below).
    server = ExitStack()
    base_url = server.enter_context(live_server(app))

    meta = metadata_store(settings)
    tokens: dict[str, str] = {}
    token_ids: dict[str, str] = {}
    for label, role, agency in [
        ("counter", Role.COUNTER, None),
        ("counter2", Role.COUNTER, None),
        ("agency_a", Role.AGENCY, AGENCY_A),
        ("agency_b", Role.AGENCY, AGENCY_B),
        ("operator", Role.OPERATOR, None),
    ]:
        info, token = meta.create_token(name=USER_NAMES[label], role=role, agency_code=agency)
        tokens[label], token_ids[label] = token, info.principal.token_id

    # Two receipts for agency A, uploaded through the API now and processed while the
    # browser starts: the agency's and the operator's tests read them.
    receipts = []
    for seed in (11, 23):
        truth = dossiers.random_truth(random.Random(seed), procedure="lltp")
        image, _kind = dossiers.render_receipt(truth, dpi=200)
        path = root / f"giay-{seed}.jpg"
        image.convert("RGB").save(path, quality=90, dpi=(200, 200))
        receipts.append(Receipt(path, truth))
    # A two-page dossier (receipt and application form): the viewer's next and previous.
    truth = dossiers.random_truth(random.Random(37), procedure="lltp")
    first, _kind = dossiers.render_receipt(truth, dpi=200)
    second, _kind = dossiers.render_lltp_form(truth, dpi=200)
    path = root / "ho-so-2-trang.pdf"
    first.convert("RGB").save(
        path, save_all=True, append_images=[second.convert("RGB")], resolution=200
    )
    receipts.append(Receipt(path, truth, mime="application/pdf"))
    response = httpx.post(
        f"{base_url}/api/batches",
        headers={"Authorization": f"Bearer {tokens['counter']}"},
        files=[("files", (r.path.name, r.path.read_bytes(), r.mime)) for r in receipts],
        data={"agency": AGENCY_A, "procedure": "lltp"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    for receipt, dossier in zip(receipts, batch["dossiers"], strict=True):
        receipt.dossier_id = dossier["dossier_id"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        world = World(
            settings, base_url, runner, browser, tokens, token_ids, receipts, batch["batch_id"]
        )
        try:
            yield world
        finally:
            for context in world.contexts:
                context.close()
            browser.close()
            server.close()
            runner.shutdown(wait=True)
            runtime.reset()


def drop_files(page: Page, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drag files from the desktop onto `selector`: dragenter, dragover, drop with a
    DataTransfer holding real File objects (what Chromium delivers for a real drag)."""
    payload = [
        {"name": name, "type": mime, "data": base64.b64encode(data).decode("ascii")}
        for name, data, mime in files
    ]
    page.evaluate(
        """([selector, files]) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            const zone = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {
                    bubbles: true, cancelable: true, dataTransfer: transfer,
                }));
            }
        }""",
        [selector, payload],
    )


def images_loaded(page: Page, selector: str) -> list[int]:
    """Scroll each image into view (they load lazily) and return their natural widths
    once every one has finished loading."""
    images = page.locator(selector)
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(sel)].every((i) => i.complete)", arg=selector
    )
    widths: list[int] = page.eval_on_selector_all(selector, "(all) => all.map(i => i.naturalWidth)")
    return widths


# --- counters -----------------------------------------------------------------------------


def test_counter_dropped_bad_file_is_refused_by_name_and_nothing_is_kept(
    world: World, samples_dir: Path
) -> None:
    meta = metadata_store(world.settings)
    dossiers_before = {d.dossier_id for d in meta.list_dossiers(limit=1000)}
    page = world.sign_in("counter2", "/upload")
    assert page.url.endswith("/upload")
    assert page.locator("#send").is_disabled()  # nothing chosen yet

    good = (samples_dir / "page.jpg").read_bytes()
    bad = (samples_dir / "not-a-pdf.pdf").read_bytes()
    drop_files(
        page,
        "#drop-zone",
        [("not-a-pdf.pdf", bad, "application/pdf"), ("giay-to.jpg", good, "image/jpeg")],
    )
    chosen = page.locator("#chosen li")
    assert chosen.count() == 2
    assert chosen.nth(0).inner_text().startswith("not-a-pdf.pdf")
    assert chosen.nth(1).inner_text().startswith("giay-to.jpg")
    assert "over" not in (page.get_attribute("#drop-zone", "class") or "")
    assert page.locator("#send").is_enabled()

    page.select_option("#agency", AGENCY_A)
    with page.expect_response("**/api/batches") as answer:
        page.click("#send")
    assert answer.value.status == 415

    error = page.locator("#upload-error")
    error.wait_for(state="visible")
    assert "Tải lên bị từ chối" in error.inner_text()
    refused = page.locator("#refused li").all_inner_texts()
    # Only the bad file is named, in Vietnamese (the library's English never shows).
    assert refused == ["not-a-pdf.pdf: không phải tệp PDF, TIFF, JPEG hay PNG"], refused
    assert page.locator("#progress-panel").is_hidden()
    # The refused file left the list, the good one stayed: one click sends it again.
    expect(page.locator("#chosen li")).to_have_count(1)
    assert page.locator("#chosen li").inner_text().startswith("giay-to.jpg")
    assert page.locator("#send").is_enabled()

    # Nothing of the refused upload was kept: no batch, no dossier, no staged file.
    assert meta.list_batches(token_id=world.token_ids["counter2"]) == []
    assert {d.dossier_id for d in meta.list_dossiers(limit=1000)} == dossiers_before
    assert not list((world.settings.data_dir / "incoming").glob("*/*"))


def test_counter_uploads_a_scan_and_watches_it_archived(world: World, samples_dir: Path) -> None:
    scan = samples_dir / "page.jpg"
    page = world.sign_in("counter", "/upload")
    assert page.url.endswith("/upload")
    assert page.locator("#progress-panel").is_hidden()

    page.set_input_files("#file-input", str(scan))
    assert page.locator("#chosen li").inner_text().startswith("page.jpg")
    page.select_option("#agency", AGENCY_A)
    with page.expect_response("**/api/batches") as answer:
        page.click("#send")
    assert answer.value.status == 202
    batch_id = answer.value.json()["batch_id"]

    # The progress panel appears at once, with the bar and the batch id.
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#batch-id")).to_have_text(batch_id)
    expect(page.locator("#chosen li")).to_have_count(0)  # the sent files left the list
    expect(page.locator("#upload-error")).to_be_hidden()

    # The status rows follow the batch until the file is archived.
    row = page.locator("#batch-status tbody tr")
    page.locator('#batch-status tbody tr[data-status="archived"]').wait_for(timeout=UI_TIMEOUT_MS)
    assert row.count() == 1
    cells = row.first.locator("td").all_inner_texts()
    assert cells[0] == "page.jpg" and cells[1] == "Đã lưu trữ" and cells[2] == "1", cells
    page.wait_for_function(
        "() => document.getElementById('upload-state').textContent.startsWith('Xong')",
        timeout=UI_TIMEOUT_MS,
    )
    value, maximum = page.eval_on_selector("#upload-progress", "(p) => [p.value, p.max]")
    assert value == maximum == 1  # one page, done

    # Behind the page: the dossier is archived and its original is the file sent.
    meta = metadata_store(world.settings)
    (dossier,) = meta.batch_dossiers(batch_id)
    assert dossier.status is DossierStatus.ARCHIVED
    key = meta.original_key(dossier.dossier_id)
    assert key is not None
    assert object_store(world.settings).get_bytes(key) == scan.read_bytes()
    tally = "1 đã lưu trữ" + (" · 1 cần kiểm tra" if dossier.needs_review else "")
    assert page.locator("#tally").inner_text() == tally
    # After a reload the batch is listed among the recent ones, and its results stay.
    assert page.url.endswith(f"/upload?batch={batch_id}")
    page.reload()
    assert batch_id in page.locator("ul.recent").inner_text()
    expect(page.locator("#tally")).to_have_text(tally)
    expect(page.locator('#batch-status tbody tr[data-status="archived"]')).to_have_count(1)
    assert world.csp_violations == []  # the page's script runs under its own policy


# --- agencies -----------------------------------------------------------------------------


def test_agency_searches_opens_the_dossier_and_downloads(world: World) -> None:
    receipt = world.ready()[0]
    truth = receipt.truth
    name = truth.person.full_name
    page = world.sign_in("agency_a", "/search")
    assert page.url.endswith("/search")
    assert AGENCY_A in page.locator("h1").inner_text()

    # By name, typed without diacritics and in lower case (under "more filters").
    folded = dossiers.ascii_fold(name).lower()
    assert folded != name.lower()
    open_filters(page)
    page.fill("input[name=name]", folded)
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?.*\bname=[^&]+"))
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1, page.locator("main").inner_text()
    cells = rows.first.locator("td").all_inner_texts()
    assert (
        cells[0] == truth.dossier_code and cells[1] == name and cells[2] == truth.person.id_number
    )

    # By dossier code (the form keeps what was typed; clear the name first).
    page.fill("input[name=name]", "")
    page.fill("input[name=code]", truth.dossier_code)
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?.*\bcode=[^&]+"))
    assert page.locator("#results tbody tr").count() == 1
    # The code in the result is marked (it is what was searched for): the link by its name.
    page.locator("#results").get_by_role("link", name=truth.dossier_code, exact=True).click()
    page.wait_for_url(f"**/dossiers/{receipt.dossier_id}")

    assert truth.dossier_code in page.locator("h1").inner_text()
    # Page thumbnails really loaded (a broken image has naturalWidth 0).
    widths = images_loaded(page, "#thumbnails img")
    assert len(widths) == 1 and widths[0] > 100, widths
    # Fields with their confidence.
    fields = {
        cells[0]: cells
        for cells in (
            row.locator("th, td").all_inner_texts()
            for row in page.locator("#fields tbody tr").all()
        )
    }
    assert fields["Họ và tên"][1] == name
    assert fields["Mã hồ sơ"][1] == truth.dossier_code and fields["Mã hồ sơ"][2] == "Mã QR"
    assert fields["Số định danh"][1] == truth.person.id_number
    assert all(re.fullmatch(r"\d{1,3}%", cells[3]) for cells in fields.values()), fields
    assert page.locator("#signature").is_visible()

    # Downloads: the PDF as a browser download, the others through the same cookie.
    with page.expect_download() as download:
        page.click("#download-pdf")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and download.value.suggested_filename.endswith(".pdf")
    fields_url = page.get_attribute("#download-fields", "href")
    original_url = page.get_attribute("#download-original", "href")
    assert fields_url and original_url
    answer = page.request.get(fields_url)
    assert answer.ok
    assert answer.json()["fields"]["id_number"]["value"] == truth.person.id_number
    original = page.request.get(original_url)
    assert original.ok and original.body() == receipt.path.read_bytes()
    assert world.csp_violations == []


def test_other_agency_sees_neither_the_dossier_nor_search_results(world: World) -> None:
    receipt = world.ready()[0]
    truth = receipt.truth
    page = world.sign_in("agency_b", "/search")
    assert page.locator("#no-results").is_visible()  # nothing routed to agency B

    for field_name, value in [
        ("name", dossiers.ascii_fold(truth.person.full_name)),
        ("code", truth.dossier_code),
    ]:
        page.goto("/search?" + str(httpx.QueryParams({field_name: value})))
        assert page.locator("#no-results").is_visible(), (field_name, value)
        assert page.locator("#results").count() == 0

    response = page.goto(f"/dossiers/{receipt.dossier_id}")
    assert response is not None and response.status == 404
    assert "Không tìm thấy" in page.locator("body").inner_text()
    assert truth.person.full_name not in page.content()
    pdf = page.request.get(f"/api/dossiers/{receipt.dossier_id}/pdf")
    assert pdf.status == 404


# --- operators ----------------------------------------------------------------------------


def test_operator_dashboard_and_review_correction(world: World) -> None:
    flagged = world.ready()[1]
    meta = metadata_store(world.settings)
    page = world.sign_in("operator", "/ops")
    assert page.url.endswith("/ops")

    counts = meta.status_counts()
    shown = {
        status: page.locator(f'#counts .n[data-status="{status}"]').inner_text()
        for status in ("archived", "failed")
    }
    assert shown == {"archived": str(counts["archived"]), "failed": str(counts["failed"])}
    assert counts["archived"] >= 2
    assert world.batch_id in page.locator("#batches").inner_text()
    assert "Không có lỗi." in page.locator("#failures").inner_text()

    page.click("header nav a:text-is('Cần kiểm tra')")
    page.wait_for_url("**/ops/review")
    item = page.locator(f'section.review-item[data-dossier="{flagged.dossier_id}"]')
    assert item.count() == 1
    form = item.locator("form.correction")
    assert form.count() == 1  # one form per dossier
    assert form.get_attribute("action") == f"/ops/review/{flagged.dossier_id}"
    assert form.locator("input[name^='value.']").count() == 1  # only the flagged name
    assert "độ tin cậy OCR thấp" in form.inner_text() and "41%" in form.inner_text()
    # The crop of the page around the value really loaded (else it is replaced by text).
    crop = form.locator("img")
    assert crop.count() == 1
    (width,) = images_loaded(page, f'section[data-dossier="{flagged.dossier_id}"] form img')
    assert width > 20
    value = form.locator("input[name='value.full_name']")
    old = flagged.truth.person.full_name
    assert value.input_value() == old

    corrected = old.rsplit(" ", 1)[0] + " Hoa"
    value.fill(corrected)
    form.locator("input[name=note]").fill("đối chiếu với CCCD")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/ops/review?done=*")
    status = page.locator("p[role=status]")
    # Named by the code the operator files it under, not the internal id (issue 29).
    code = meta.get_dossier(flagged.dossier_id).dossier_code or flagged.dossier_id
    assert status.inner_text() == f"Đã lưu cho hồ sơ {code}."
    # Nothing else needed review in that dossier: it left the queue.
    assert page.locator(f'section.review-item[data-dossier="{flagged.dossier_id}"]').count() == 0

    (correction,) = meta.corrections(flagged.dossier_id)
    assert (correction.name, correction.old_value, correction.new_value) == (
        "full_name",
        old,
        corrected,
    )
    assert (
        correction.corrected_by == USER_NAMES["operator"]
        and correction.note == "đối chiếu với CCCD"
    )
    info = meta.get_dossier(flagged.dossier_id)
    assert info.full_name == corrected and not info.needs_review
    assert world.csp_violations == []


# --- every page, every role, phone and desktop ----------------------------------------------

SHOTS = Path(os.environ.get("SOHOA_SCREENSHOTS", "/tmp/sohoa-screenshots"))


def internal_words() -> re.Pattern[str]:
    """The catalogue's internal keys, the procedure ids and the English a page once showed:
    none may be visible (a whole word, case as written)."""
    from app.i18n import load_messages

    messages = load_messages()
    words = messages.internal_keys() | set(messages.procedures)
    words |= {"needs review", "not found", "None", "null", "undefined", "Error", "error"}
    words |= {"not a PDF", "Syntax Error", "trailer", "detail", "page", "reads", "form"}
    words |= {"application form", "receipt", "review", "the", "not", "of"}
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-]|\.\w)")  # not in a file name


def read_off_paper(world: World) -> list[str]:
    """Every value the machine read from the world's papers (fields and their candidates),
    longest first. What OCR reads differs from machine to machine, and a value may hold any
    word ("form", "page"): those are the paper's words, not the page's, so the walk sets them
    aside and asserts the page's own words only."""
    return values_read(world.settings, [r.dossier_id for r in world.receipts])


def values_read(settings: Settings, dossier_ids: Sequence[str]) -> list[str]:
    """Every value the machine read from these dossiers' papers, longest first."""
    meta = metadata_store(settings)
    values: set[str] = set()
    for dossier_id in dossier_ids:
        info = meta.get_dossier(dossier_id)
        values |= {str(v) for v in info.fields.values() if v}
        for detail in info.field_details:
            values |= {detail.value} | {c.value for c in detail.candidates}
            values |= {detail.suggestion or ""}
    return sorted((v for v in values if v.strip()), key=len, reverse=True)


def check_page(
    page: Page, label: str, width: int, leaks: re.Pattern[str], paper: Sequence[str] = ()
) -> None:
    """No sideways scrolling, no internal word (outside values read off paper); a screenshot
    to look at."""
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{label}-{width}.png"), full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{label}: {scroll_width} px wide at {width} px"
    text = page.locator("body").inner_text()
    for value in paper:
        text = text.replace(value, " ")
    found = sorted(set(leaks.findall(text)))
    assert found == [], f"{label}: internal words on screen: {found}"


def test_every_page_speaks_vietnamese_and_fits_a_phone(world: World) -> None:
    receipts = world.ready()
    leaks = internal_words()
    paper = read_off_paper(world)
    first, flagged, two_pages = (r.dossier_id for r in receipts)
    given_name = receipts[0].truth.person.full_name.split()[-1]
    walks = {
        "counter": ["/upload", f"/upload?batch={world.batch_id}"],
        "agency_a": [
            "/search",
            "/search?" + str(httpx.QueryParams({"name": given_name, "text": "hồ sơ"})),
            f"/dossiers/{first}",
            f"/dossiers/{two_pages}",
            "/dossiers/20990101-000000-000000-001",  # the 404 page
        ],
        "operator": [
            "/ops",
            "/ops/review",
            f"/ops/batches/{world.batch_id}",
            f"/dossiers/{flagged}?field=full_name",
            "/search?procedure=lltp",
        ],
    }
    for width in (390, 1280):
        for who, paths in walks.items():
            page = world.sign_in(who, paths[0], width=width)
            for number, path in enumerate(paths):
                if number:
                    page.goto(path)
                if path.startswith("/upload?batch="):
                    expect(page.locator("#tally")).to_be_visible(timeout=UI_TIMEOUT_MS)
                check_page(page, f"{who}-{number}", width, leaks, paper)
            page.context.close()
    assert world.csp_violations == []


# --- the document on screen -----------------------------------------------------------------


def test_dossier_viewer_pages_zoom_and_downloads_named_by_code(world: World) -> None:
    receipt = world.ready()[2]
    page = world.sign_in("agency_a", f"/dossiers/{receipt.dossier_id}")
    meta = metadata_store(world.settings)
    info = meta.get_dossier(receipt.dossier_id)
    assert info.page_count == 2, info.page_count
    label = page.locator("#page-label")
    expect(label).to_have_text("Trang 1/2")
    shown = page.locator("figure.page:not([hidden]) img")
    shown.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('figure.page:not([hidden]) img').complete")
    box = shown.bounding_box()
    assert box is not None and box["width"] >= 600, box  # reading size on a desktop
    # The fields sit beside the page, not under it.
    fields_box = page.locator("#fields").bounding_box()
    assert fields_box is not None and fields_box["x"] > box["x"] + box["width"] - 1

    page.click("#page-next")
    expect(label).to_have_text("Trang 2/2")
    expect(page.locator('figure.page[data-number="2"]')).to_be_visible()
    assert page.locator("#page-next").is_disabled()
    page.focus("#page-frame")
    page.keyboard.press("ArrowLeft")  # the keyboard turns pages too
    expect(label).to_have_text("Trang 1/2")
    page.click("#zoom-in")
    zoomed = page.locator("figure.page:not([hidden]) img").bounding_box()
    assert zoomed is not None and zoomed["width"] > box["width"] * 1.2
    page.click("#zoom-fit")

    with page.expect_download() as download:
        page.click("#download-pdf")
    code = info.dossier_code or ""
    assert code and download.value.suggested_filename == f"{code}.pdf"
    with page.expect_download() as download:
        page.click("#download-original")
    assert download.value.suggested_filename == f"{code}-goc.pdf"
    assert world.csp_violations == []


def test_field_under_review_is_boxed_on_its_page(world: World) -> None:
    # The operator follows a link naming a field: its value (the code, from the receipt's
    # QR, exact) is boxed where it is printed on the page.
    receipt = world.ready()[0]
    page = world.sign_in("operator", f"/dossiers/{receipt.dossier_id}?field=dossier_code")
    mark = page.locator('.mark.focus[data-field="dossier_code"]')
    expect(mark).to_be_visible()
    image = page.locator("figure.page:not([hidden]) img").bounding_box()
    boxed = mark.bounding_box()
    assert image is not None and boxed is not None
    # Inside the page, a line's height: the name's line, not the whole page.
    assert image["x"] <= boxed["x"] and boxed["x"] + boxed["width"] <= image["x"] + image["width"]
    assert 0 < boxed["height"] < image["height"] / 5
    row = page.locator('#fields tr[data-field="dossier_code"]')
    assert "focus" in (row.get_attribute("class") or "")


def test_failed_dossier_shows_its_error_in_words_and_no_pdf_button(world: World) -> None:
    world.ready()
    meta = metadata_store(world.settings)
    batch = "20990101-000000-aaaaaa"
    meta.create_batch(
        BatchInfo(batch, datetime.now(UTC), "vie", 1, agency_code=AGENCY_A, counter_id="q1")
    )
    dossier_id = f"{batch}-001"
    meta.add_dossier(dossier_id, batch, 0, "hong.pdf")
    meta.set_status(
        dossier_id, DossierStatus.FAILED, "hong.pdf: Syntax Error: Couldn't find trailer dictionary"
    )
    page = world.sign_in("operator", f"/dossiers/{dossier_id}")
    assert page.locator("#download-pdf").count() == 0
    assert page.locator("#no-pdf").is_visible()
    assert (
        page.locator("#dossier-error")
        .inner_text()
        .endswith("hong.pdf: tệp PDF bị hỏng hoặc không đầy đủ")
    )
    page.goto("/ops")
    failures = page.locator("#failures").inner_text()
    assert "tệp PDF bị hỏng" in failures and "Syntax Error" not in failures


# --- agencies: search -----------------------------------------------------------------------


def open_filters(page: Page) -> None:
    """The search filters past the text box are folded (issue 29): unfold them."""
    if page.locator("#more-filters").get_attribute("open") is None:
        page.click("#more-filters summary")


def test_search_by_any_part_with_total_sort_and_marked_words(world: World) -> None:
    receipt = world.ready()[0]
    person = receipt.truth.person
    given = person.full_name.split()[-1]
    page = world.sign_in("agency_a", "/search", width=390)
    open_filters(page)
    page.fill("#s-name", dossiers.ascii_fold(given).lower())
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?.*\bname="))
    rows = page.locator("#results tbody tr")
    names = rows.locator("td:nth-child(2)").all_inner_texts()
    assert person.full_name in names
    expect(page.locator("#total")).to_have_text(f"{rows.count()} hồ sơ")
    assert given in page.locator("#results td:nth-child(2) mark").all_inner_texts()

    # Part of the ID number, the end of the code, each alone.
    for field_id, value in [
        ("#s-id", person.id_number[-6:]),
        ("#s-code", receipt.truth.dossier_code[-11:]),
    ]:
        page.goto("/search")
        open_filters(page)
        page.fill(field_id, value)
        page.click("form.search button[type=submit]")
        page.wait_for_url(re.compile(r"/search\?"))
        codes = page.locator("#results tbody tr td:first-child a").all_inner_texts()
        assert receipt.truth.dossier_code in codes, (field_id, value, codes)
        assert value in page.locator("#results mark").all_inner_texts()

    # The procedure by its name, the day received, sorted by name.
    page.goto("/search")
    open_filters(page)
    page.select_option("#s-procedure", label="Cấp phiếu lý lịch tư pháp")
    # The day the dossiers were received in Vietnam (not "today": a run may cross midnight).
    received = metadata_store(world.settings).get_dossier(receipt.dossier_id).created_at
    page.fill("#s-received", received.astimezone(VIETNAM).strftime("%Y-%m-%d"))
    page.select_option("#s-sort", "name")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?.*\bsort=name"))
    shown = page.locator("#results tbody tr td:nth-child(2)").all_inner_texts()
    meta = metadata_store(world.settings)  # names as they stand (an operator corrects)
    expected = {meta.get_dossier(r.dossier_id).full_name for r in world.receipts}
    assert expected <= set(shown), shown
    assert shown == sorted(shown, key=lambda n: dossiers.ascii_fold(n).lower())
    assert set(page.locator("#results tbody tr td:nth-child(4)").all_inner_texts()) == {
        "Cấp phiếu lý lịch tư pháp"
    }


def test_search_never_lets_ocr_text_write_html(world: World) -> None:
    world.ready()
    meta = metadata_store(world.settings)
    batch = "20990101-000000-bbbbbb"
    meta.create_batch(
        BatchInfo(batch, datetime.now(UTC), "vie", 1, agency_code=AGENCY_A, counter_id="q1")
    )
    dossier_id = f"{batch}-001"
    meta.add_dossier(dossier_id, batch, 0, "xss.jpg")
    hostile = '<img src=x id="injected">Lò Thị Mẩy'
    text = 'Giấy tờ <script id="injected2">alert(1)</script> của Lò Thị Mẩy'
    meta.mark_archived(
        dossier_id,
        fields=[FieldInfo("full_name", hostile, "ocr", 0.9)],
        text=text,
    )
    object_store(world.settings).put_bytes(
        keys.text_key(dossier_id), text.encode(), "text/plain; charset=utf-8"
    )
    page = world.sign_in("agency_a", "/search?" + str(httpx.QueryParams({"text": "may"})))
    assert page.locator("#injected, #injected2").count() == 0
    row = page.locator("#results tbody tr").filter(has_text="Lò Thị Mẩy")
    assert row.locator("td:nth-child(2)").inner_text() == hostile  # shown as text
    snippet = row.locator(".snippet")
    assert "<script" in snippet.inner_text(), row.inner_html()
    assert snippet.locator("mark").all_inner_texts() == ["Mẩy"]


# --- counters: agency list, warning, files one by one ---------------------------------------


def test_counter_agency_from_list_warning_and_files_removed_one_by_one(
    world: World, samples_dir: Path
) -> None:
    page = world.sign_in("counter2", "/upload", width=390)
    options = page.locator("#agency option").evaluate_all("(all) => all.map((o) => o.value)")
    assert AGENCY_A in options and AGENCY_B in options
    # Two agencies and a counter account of none: nothing is preselected, the counter picks
    # (the select is required), and the pick never carries over to the next batch.
    assert page.locator("#agency").input_value() == ""
    assert page.locator("#agency").get_attribute("required") is not None
    page.select_option("#agency", AGENCY_B)
    assert page.locator("label[for=agency]").count() == 1

    good = (samples_dir / "page.jpg").read_bytes()
    named = f"{AGENCY_A}-250101-0007.jpg"  # the code says agency A
    drop_files(
        page,
        "#drop-zone",
        [(named, good, "image/jpeg"), ("b.jpg", good, "image/jpeg"), ("c.jpg", good, "image/jpeg")],
    )
    warning = page.locator("#agency-warning")
    expect(warning).to_be_visible()
    assert AGENCY_A in warning.inner_text() and AGENCY_B in warning.inner_text()
    page.select_option("#agency", AGENCY_A)
    expect(warning).to_be_hidden()

    page.click("#chosen li:nth-child(2) button.remove")
    names = [t.split(" (")[0] for t in page.locator("#chosen li .name").all_inner_texts()]
    assert names == [named, "c.jpg"]
    # The file input is reached with the keyboard (its label is the visible button).
    page.focus("#file-input")
    assert page.evaluate("document.activeElement.id") == "file-input"
    assert page.locator("label[for=file-input]").inner_text() == "Chọn tệp"


# --- operators: review desk -----------------------------------------------------------------


def _sex_in_id(number: str) -> str:
    """The sex a CCCD number's century digit says (even: Nam, odd: Nữ)."""
    return "Nam" if int(number[3]) % 2 == 0 else "Nữ"


def flag_id_and_sex(settings: Settings, dossier_id: str) -> None:
    """The CCCD's sex digit disagrees with the sex read: both fields to check together, and
    nothing else in doubt (what OCR made of the form's handwriting is not this test's)."""
    meta = metadata_store(settings)
    info = meta.get_dossier(dossier_id)
    number = info.id_number or "001090123456"
    fields = [
        replace(f, needs_review=False, note=None, state=FieldState.READ)
        for f in info.field_details
        if f.name not in ("id_number", "sex")
    ]
    fields += [
        FieldInfo("id_number", number, "ocr", 0.5, True, f"citizen ID {number}: sex mismatch"),
        FieldInfo("sex", "Nam" if _sex_in_id(number) == "Nữ" else "Nữ", "ocr", 0.9),
    ]
    meta.mark_archived(
        dossier_id, fields=fields, review_reasons=[f"id_number: citizen ID {number}: sex mismatch"]
    )


def test_review_desk_filters_related_fields_and_dismissal(world: World) -> None:
    receipt = world.ready()[2]
    flag_id_and_sex(world.settings, receipt.dossier_id)
    meta = metadata_store(world.settings)
    number = meta.get_dossier(receipt.dossier_id).id_number
    page = world.sign_in("operator", "/ops/review?reason=id_number", width=390)
    items = page.locator("section.review-item")
    assert items.count() == 1
    item = items.first
    assert item.get_attribute("data-dossier") == receipt.dossier_id
    assert "Số định danh" in item.locator("ul.reasons").inner_text()
    # The ID, sex and date of birth are edited together.
    inputs = item.locator("input[name^='value.']")
    names = set(inputs.evaluate_all("(all) => all.map((i) => i.name)"))
    assert {"value.date_of_birth", "value.id_number", "value.sex"} <= names, names
    # Corrections are checked by type: the sex must agree with the confirmed CCCD number.
    right = _sex_in_id(number or "")
    item.locator("input[name='value.sex']").fill(right)
    item.locator("form.correction button[type=submit]").click()
    page.wait_for_url("**/ops/review?done=*")
    corrected = {c.name: c.new_value for c in meta.corrections(receipt.dossier_id)}
    assert corrected["sex"] == right and corrected["id_number"] == number  # confirmed
    assert "date_of_birth" not in corrected  # a related field left as it was
    assert not meta.get_dossier(receipt.dossier_id).needs_review

    # Filters: a procedure with nothing waiting; waiting more than a week.
    page.goto("/ops/review?procedure=doi-gplx")
    assert page.locator("#queue-empty").is_visible()
    page.goto("/ops/review?age=7")
    assert page.locator("#queue-empty").is_visible()

    # A page that can never be read: dismissed with a reason, kept in the history.
    flag_id_and_sex(world.settings, receipt.dossier_id)
    page.goto("/ops/review?reason=id_number")
    item = page.locator(f'section.review-item[data-dossier="{receipt.dossier_id}"]')
    item.locator("details.dismiss summary").click()
    item.locator("form[action^='/ops/dismiss'] select").select_option("unreadable")
    item.locator("form[action^='/ops/dismiss'] button").click()
    page.wait_for_url("**/ops/review?done=*")
    assert page.locator(f'section.review-item[data-dossier="{receipt.dossier_id}"]').count() == 0
    assert not meta.get_dossier(receipt.dossier_id).needs_review
    history = [message for _at, _status, message in meta.events(receipt.dossier_id)]
    assert "review dismissed: trang không thể đọc được" in history
    page.goto(f"/dossiers/{receipt.dossier_id}")
    assert "bỏ qua kiểm tra: trang không thể đọc được" in page.locator(".events").inner_text()


def test_dashboard_refreshes_and_drills_down_to_a_batch(world: World) -> None:
    world.ready()
    page = world.sign_in("operator", "/ops")
    refresh = page.locator('meta[http-equiv="refresh"]').get_attribute("content")
    assert refresh is not None and int(refresh) > 0
    page.click(f"#batches a:text-is('{world.batch_id}')")
    page.wait_for_url(f"**/ops/batches/{world.batch_id}")
    rows = page.locator("#batch-dossiers tbody tr")
    assert rows.count() == len(world.receipts)
    assert page.locator("#tally").inner_text().startswith(f"{len(world.receipts)} Đã lưu trữ")
    # A counter cannot open another counter's batch page, nor any operator's page.
    other = world.sign_in("counter2", "/upload")
    response = other.goto(f"/ops/batches/{world.batch_id}")
    assert response is not None and response.status == 403
