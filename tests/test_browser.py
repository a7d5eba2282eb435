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
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
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
from models import DossierStatus, FieldInfo, Role  # noqa: E402
from tests import dossiers  # noqa: E402
from tests.service_support import live_server, run_steps  # noqa: E402

pytestmark = pytest.mark.slow

AGENCY_A, AGENCY_B = "000.00.00.H49", "000.17.22.H56"
PROCESS_TIMEOUT_S = 120
UI_TIMEOUT_MS = 90_000  # a page's OCR on a busy 2-core machine, with margin


@dataclass
class Receipt:
    """A scanned receipt uploaded for agency A (and its ground truth)."""

    path: Path
    truth: dossiers.DossierTruth
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

    def sign_in(self, who: str, path: str) -> Page:
        """A new browser (own cookie jar) opens `path`, is sent to sign in, pastes its token."""
        context = self.browser.new_context(base_url=self.base_url, accept_downloads=True)
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
        page.fill("input[name=token]", self.tokens[who])
        page.click("button[type=submit]")
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
        info, token = meta.create_token(name=f"{label} user", role=role, agency_code=agency)
        tokens[label], token_ids[label] = token, info.principal.token_id

    # Two receipts for agency A, uploaded through the API now and processed while the
    # browser starts: the agency's and the operator's tests read them.
    receipts = []
    for seed in (11, 23):
        truth = dossiers.random_truth(random.Random(seed), procedure="lltp")
        image, _kind = dossiers.render_receipt(truth, dpi=200)
        path = root / f"receipt-{seed}.jpg"
        image.convert("RGB").save(path, quality=90, dpi=(200, 200))
        receipts.append(Receipt(path, truth))
    response = httpx.post(
        f"{base_url}/api/batches",
        headers={"Authorization": f"Bearer {tokens['counter']}"},
        files=[("files", (r.path.name, r.path.read_bytes(), "image/jpeg")) for r in receipts],
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

    # By name, typed without diacritics and in lower case.
    folded = dossiers.ascii_fold(name).lower()
    assert folded != name.lower()
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
    page.wait_for_url(re.compile(r"/search\?code=[^&]+"))
    assert page.locator("#results tbody tr").count() == 1
    page.click(f"#results a:text-is('{truth.dossier_code}')")
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
    assert status.inner_text() == f"Đã lưu cho hồ sơ {flagged.dossier_id}."
    # Nothing else needed review in that dossier: it left the queue.
    assert page.locator(f'section.review-item[data-dossier="{flagged.dossier_id}"]').count() == 0

    (correction,) = meta.corrections(flagged.dossier_id)
    assert (correction.name, correction.old_value, correction.new_value) == (
        "full_name",
        old,
        corrected,
    )
    assert correction.corrected_by == "operator user" and correction.note == "đối chiếu với CCCD"
    info = meta.get_dossier(flagged.dossier_id)
    assert info.full_name == corrected and not info.needs_review
    assert world.csp_violations == []
