"""The counter's verdict on the upload page, in a real browser (issue 26): a clerk uploads
dossiers with known defects and reads, in Vietnamese, what to do about each one, on a phone
(390 px) and on a desktop.

The dossiers come from tests/counter_defects.py. Only defects whose words do not depend on
what OCR reads are asserted: a 1-bit page and a 72 dpi page (both from the file itself), a
dossier whose ID copy was never scanned (its only other pages are a receipt and a form, so
the copy is missing whatever the classifier makes of them; the procedure is chosen on the
page) and a damaged file (refused with the upload, before any page is read). The cut-off
page and the blank sheet are left to bench/counter.py, which prints what every detector did.

Reuses tests/test_browser.py's browser checks (same skip rules: SOHOA_REQUIRE_BROWSER=1 makes
a missing browser a failure) with its own small server, so it runs alone in seconds of OCR.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from app.runner import BatchRunner
from app.service import create_app
from config import Settings
from flows import runtime
from flows.runtime import metadata_store
from models import Role
from tests.counter_defects import DefectCase, defect_cases
from tests.service_support import AGENCY_A, live_server, run_steps
from tests.test_browser import (  # its skip-or-fail rules run here; playwright only through it
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    USER_NAMES,
    World,
    check_page,
    expect,
    internal_words,
    sync_playwright,
    values_read,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def counter_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("counter-browser")
    runtime.reset()
    settings = Settings(data_dir=root / "data", workers=2)
    runner = BatchRunner(settings, run=run_steps)
    with ExitStack() as stack:
        stack.callback(runtime.reset)
        stack.callback(runner.shutdown, wait=True)
        base_url = stack.enter_context(live_server(create_app(settings, runner=runner)))
        info, token = metadata_store(settings).create_token(
            name=USER_NAMES["counter"], role=Role.COUNTER
        )
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        stack.callback(browser.close)
        world = World(
            settings, base_url, runner, browser, {"counter": token},
            {"counter": info.principal.token_id}, receipts=[], batch_id="",
        )  # fmt: skip
        try:
            yield world
        finally:
            for context in world.contexts:
                context.close()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DefectCase]:
    made = defect_cases(
        tmp_path_factory.mktemp("counter-cases"),
        only=["missing_paper", "bilevel", "low_dpi", "damaged"],
    )
    return {case.defect: case for case in made}


def test_every_defect_is_named_in_vietnamese_at_390_and_1280(
    counter_world: World, cases: dict[str, DefectCase]
) -> None:
    world = counter_world
    page = world.sign_in("counter", "/upload", width=390)
    damaged = cases["damaged"]
    sent = [cases[d] for d in ("bilevel", "low_dpi", "missing_paper")]
    page.set_input_files("#file-input", [str(damaged.path), *(str(c.path) for c in sent)])
    page.fill("#agency", AGENCY_A)  # no agency account yet: the code is typed
    page.select_option("#procedure", "lltp")

    # The damaged file: the whole upload refused, the file named with what to do; the good
    # files stay chosen, so one more click sends them.
    with page.expect_response("**/api/batches") as answer:
        page.click("#send")
    assert answer.value.status == 422
    expect(page.locator("#upload-error")).to_be_visible()
    (refused,) = page.locator("#refused li").all_inner_texts()
    assert refused.startswith(f"{damaged.path.name}: tệp bị cắt cụt"), refused
    assert refused.endswith("gửi lại tệp"), refused
    names = [t.split(" (")[0] for t in page.locator("#chosen li .name").all_inner_texts()]
    assert names == [c.path.name for c in sent]
    check_page(page, "counter-refused", 390, internal_words())

    with page.expect_response("**/api/batches") as answer:
        page.click("#send")
    assert answer.value.status == 202
    batch_id = answer.value.json()["batch_id"]
    # Every dossier gets its verdict box once read (the batch is finished: the tally shows).
    expect(page.locator("#tally")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#batch-status tbody tr div.verdict")).to_have_count(len(sent))
    # The finished upload is among "recent uploads" at once (issue 29: "Các lô gần đây: Chưa có
    # lô nào." right after a batch finished), and "Xong" counts the files sent.
    expect(page.locator(f'#recent-batches a[href="/upload?batch={batch_id}"]')).to_have_count(1)
    assert page.locator("#recent-batches li.none").count() == 0

    dossier_ids = [d.dossier_id for d in metadata_store(world.settings).batch_dossiers(batch_id)]
    paper = values_read(world.settings, dossier_ids)
    leaks = internal_words()
    for width in (390, 1280):
        if width != 390:
            page = world.sign_in("counter", f"/upload?batch={batch_id}", width=width)
            expect(page.locator("#tally")).to_be_visible(timeout=UI_TIMEOUT_MS)
        rows = {
            row.locator("td").first.inner_text(): row
            for row in page.locator("#batch-status tbody tr").all()
        }
        assert sorted(rows) == sorted(c.path.name for c in sent), list(rows)
        for case in sent:
            row = rows[case.path.name]
            box = row.locator("div.verdict")
            expect(box).to_be_visible()
            assert box.get_attribute("data-verdict") == "incomplete"
            assert box.locator("strong").inner_text().startswith("Chưa đạt")
            rescans = row.locator("div.verdict li.rescan")
            expect(rescans.first).to_be_visible()
            said = rescans.all_inner_texts()
            if case.defect == "bilevel":
                wanted = "Trang 2: bản quét không phải màu (đen trắng) — quét lại bằng màu"
                assert wanted in said, said
            elif case.defect == "low_dpi":
                line = next((t for t in said if t.startswith("Trang 3: độ phân giải")), "")
                assert "dưới 200 dpi — quét lại ở 200 dpi trở lên" in line, said
            else:
                assert any(t.startswith("Thiếu Bản chụp căn cước hoặc hộ chiếu") for t in said), (
                    said
                )
        check_page(page, "counter-verdicts", width, leaks, paper)
    assert world.csp_violations == []
