"""A dossier split from a stack: its "original" is its own page range of the stack, made
losslessly; the stack stays the batch's untouched original, for operators only."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import text

from config import Settings
from flows.runtime import metadata_store, object_store
from models import DossierStatus
from models.errors import BadInputError
from pipeline.load import MediaType
from pipeline.page_range import copy_pages
from storage import keys
from storage.archive import read_manifest
from tests import dossiers
from tests.service_support import AGENCY_A, AGENCY_B, World, open_world


def _page(number: int, mode: str = "RGB") -> Image.Image:
    """A page that differs from every other one (its number drawn, its own shade)."""
    image = Image.new("RGB", (240, 320), (255 - 30 * number, 255, 200 + 10 * number))
    ImageDraw.Draw(image).text((40, 40), f"page {number}", fill=(0, 0, 0))
    return image.convert(mode)


def _image_streams(pdf_path: Path | io.BytesIO) -> list[bytes]:
    """The raw (still encoded) bytes of each page's image, in page order."""
    with pikepdf.open(pdf_path) as pdf:
        return [
            next(iter(page.get_images().values())).read_raw_bytes() for page in pdf.pages
        ]  # fmt: skip


def test_pdf_range_is_exactly_those_pages_byte_for_byte(tmp_path: Path) -> None:
    stack = tmp_path / "stack.pdf"
    pages = [_page(n) for n in range(4)]
    pages[0].save(stack, "PDF", save_all=True, append_images=pages[1:], resolution=200.0)
    before = hashlib.sha256(stack.read_bytes()).hexdigest()
    made = copy_pages(
        stack, tmp_path / "part.pdf", media_type=MediaType.PDF, pages=(1, 3), name="stack.pdf"
    )
    source = _image_streams(stack)
    assert _image_streams(made) == [source[1], source[3]]
    again = copy_pages(
        stack, tmp_path / "again.pdf", media_type=MediaType.PDF, pages=(1, 3), name="stack.pdf"
    )
    assert again.read_bytes() == made.read_bytes()  # a re-run stores the same bytes
    assert hashlib.sha256(stack.read_bytes()).hexdigest() == before  # the stack untouched
    with pytest.raises(BadInputError, match=r"stack\.pdf: has 4 pages, no page 5"):
        copy_pages(
            stack, tmp_path / "x.pdf", media_type=MediaType.PDF, pages=(4,), name="stack.pdf"
        )


@pytest.mark.parametrize(
    ("compression", "mode", "kept"),
    [
        ("tiff_lzw", "RGB", "tiff_lzw"),
        ("group4", "1", "group4"),
        # Deflate is not written again (8x slower than LZW for the same size).
        ("tiff_adobe_deflate", "RGB", "tiff_lzw"),
        ("raw", "L", "tiff_lzw"),
        # JPEG inside a TIFF is not encoded a second time: stored losslessly instead.
        ("jpeg", "RGB", "tiff_lzw"),
    ],
)
def test_tiff_range_keeps_every_pixel_and_the_resolution(
    tmp_path: Path, compression: str, mode: str, kept: str
) -> None:
    stack = tmp_path / "stack.tif"
    pages = [_page(n, mode) for n in range(3)]
    pages[0].save(
        stack, "TIFF", save_all=True, append_images=pages[1:], compression=compression,
        dpi=(300, 300),
    )  # fmt: skip
    made = copy_pages(
        stack, tmp_path / "part.tif", media_type=MediaType.TIFF, pages=(2, 0), name="stack.tif"
    )
    with Image.open(stack) as source, Image.open(made) as part:
        assert part.n_frames == 2
        for frame, index in enumerate((2, 0)):
            source.seek(index)
            part.seek(frame)
            assert part.mode == source.mode
            assert part.tobytes() == source.tobytes()
            assert part.info["compression"] == kept
            assert tuple(round(d) for d in part.info["dpi"]) == (300, 300)


def test_a_single_image_is_its_own_range(tmp_path: Path) -> None:
    photo = tmp_path / "page.png"
    _page(1).save(photo)
    made = copy_pages(photo, tmp_path / "out.png", media_type=MediaType.PNG, pages=(0,), name="p")
    assert made.read_bytes() == photo.read_bytes()
    with pytest.raises(BadInputError, match="one page"):
        copy_pages(photo, tmp_path / "o.png", media_type=MediaType.PNG, pages=(0, 1), name="p")


# --- through the service: a generated stack of two citizens' dossiers --------------------


@pytest.fixture(scope="module")
def stack_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("split-original")
    pages, truths, firsts = dossiers.make_stack(2, seed=31, degrade=False)
    stack = root / "stack.pdf"
    dossiers.save_stack_pdf(pages, stack)
    settings = Settings(data_dir=root / "data", workers=2)
    with open_world(settings) as world:
        response = world.upload("counter", [stack], agency=AGENCY_A)
        assert response.status_code == 202, response.text
        batch = response.json()
        world.runner.wait(batch["batch_id"], timeout=600)
        first = batch["dossiers"][0]["dossier_id"]
        yield (
            world,
            {
                "stack": stack,
                "first": first,
                "second": f"{first}-02",
                "ranges": [list(range(firsts[0], firsts[1])), list(range(firsts[1], len(pages)))],
                "codes": [t.dossier_code for t in truths],
            },
        )


@pytest.mark.slow
def test_each_part_gets_only_its_own_pages(stack_world: tuple[World, dict[str, Any]]) -> None:
    world, stack = stack_world
    meta = metadata_store(world.settings)
    stack_images = _image_streams(stack["stack"])
    for dossier_id, pages in zip((stack["first"], stack["second"]), stack["ranges"], strict=True):
        info = meta.get_dossier(dossier_id)
        assert info.status is DossierStatus.ARCHIVED, info.error
        assert list(info.source_pages) == pages
        got = world.client.get(
            f"/api/dossiers/{dossier_id}/original", headers=world.auth("agency_a")
        )
        assert got.status_code == 200, got.text
        assert got.headers["content-disposition"].endswith('-goc.pdf"')
        # Exactly its pages of the stack, each page's scan untouched.
        assert _image_streams(io.BytesIO(got.content)) == [stack_images[i] for i in pages]
        # The manifest says which stack and pages it holds, and the range's hash.
        manifest = read_manifest(object_store(world.settings), dossier_id)
        assert manifest["stack"]["dossier_id"] == stack["first"]
        assert manifest["stack"]["pages"] == [i + 1 for i in pages]
        assert (
            manifest["stack"]["sha256"] == hashlib.sha256(stack["stack"].read_bytes()).hexdigest()
        )
        (own,) = [o for o in manifest["objects"] if o["role"] == "part-original"]
        assert own["key"] == keys.part_original_key(dossier_id, "application/pdf")
        assert own["sha256"] == hashlib.sha256(got.content).hexdigest()


@pytest.mark.slow
def test_the_stack_stays_whole_and_only_operators_fetch_it(
    stack_world: tuple[World, dict[str, Any]],
) -> None:
    world, stack = stack_world
    received = stack["stack"].read_bytes()
    stored = object_store(world.settings).get_bytes(
        keys.original_key(stack["first"], "application/pdf")
    )
    assert stored == received  # the batch's original, untouched
    for dossier_id in (stack["first"], stack["second"]):
        whole = f"/api/dossiers/{dossier_id}/original?stack=true"
        got = world.client.get(whole, headers=world.auth("operator"))
        assert got.status_code == 200 and got.content == received
        assert world.client.get(whole, headers=world.auth("agency_a")).status_code == 404


@pytest.mark.slow
def test_an_agency_owning_only_part_b_gets_neither_the_stack_nor_part_a(
    stack_world: tuple[World, dict[str, Any]],
) -> None:
    world, stack = stack_world
    meta = metadata_store(world.settings)
    with meta.engine.begin() as connection:  # part A routed to another agency
        connection.execute(
            text("UPDATE dossiers SET agency_code = :agency WHERE dossier_id = :id"),
            {"agency": AGENCY_B, "id": stack["first"]},
        )
    try:
        a, b = stack["first"], stack["second"]
        reader = world.auth("agency_a")  # owns part B only now
        assert world.client.get(f"/api/dossiers/{b}/original", headers=reader).status_code == 200
        for path in (
            f"/api/dossiers/{a}/original",
            f"/api/dossiers/{a}/original?stack=true",
            f"/api/dossiers/{b}/original?stack=true",
            f"/api/dossiers/{a}/pages/1.jpg",
            f"/api/dossiers/{a}/pdf",
        ):
            assert world.client.get(path, headers=reader).status_code == 404, path
        # B's pages are B's: as many as its range, and no page beyond them.
        count = len(stack["ranges"][1])
        assert (
            world.client.get(f"/api/dossiers/{b}/pages/{count}.jpg", headers=reader).status_code
            == 200
        )
        assert (
            world.client.get(f"/api/dossiers/{b}/pages/{count + 1}.jpg", headers=reader).status_code
            == 404
        )
        # The other agency, owner of A, gets A's pages and not the stack.
        other = world.auth("agency_b")
        got = world.client.get(f"/api/dossiers/{a}/original", headers=other)
        assert got.status_code == 200
        assert len(_image_streams(io.BytesIO(got.content))) == len(stack["ranges"][0])
        assert world.client.get(f"/api/dossiers/{b}/original", headers=other).status_code == 404
    finally:
        with meta.engine.begin() as connection:
            connection.execute(
                text("UPDATE dossiers SET agency_code = :agency WHERE dossier_id = :id"),
                {"agency": AGENCY_A, "id": stack["first"]},
            )


@pytest.mark.slow
def test_a_dossier_archived_before_ranges_existed_never_hands_out_the_stack(
    stack_world: tuple[World, dict[str, Any]],
) -> None:
    """An older manifest (no ``stack``, no ``part-original``) of a split dossier: the agency
    is refused rather than sent the whole stack; an operator still gets the file."""
    world, stack = stack_world
    objects = object_store(world.settings)
    b = stack["second"]
    manifest = read_manifest(objects, b)
    older = {k: v for k, v in manifest.items() if k != "stack"}
    older["objects"] = [o for o in manifest["objects"] if o["role"] != "part-original"]
    objects.put_bytes(keys.manifest_key(b), json.dumps(older).encode(), "application/json")
    try:
        path = f"/api/dossiers/{b}/original"
        assert world.client.get(path, headers=world.auth("agency_a")).status_code == 404
        got = world.client.get(path, headers=world.auth("operator"))
        assert got.status_code == 200 and got.content == stack["stack"].read_bytes()
    finally:
        objects.put_bytes(keys.manifest_key(b), json.dumps(manifest).encode(), "application/json")


@pytest.mark.slow
def test_the_dossier_page_says_which_pages_of_which_scan_it_holds(
    stack_world: tuple[World, dict[str, Any]],
) -> None:
    world, stack = stack_world
    b = stack["second"]
    first, last = stack["ranges"][1][0] + 1, stack["ranges"][1][-1] + 1
    for who, offers_stack in (("operator", True), ("agency_a", False)):
        world.client.cookies.clear()
        assert world.sign_in(who).status_code == 303
        page = world.client.get(f"/dossiers/{b}")
        assert page.status_code == 200
        assert f"trang {first}-{last} của tệp đó" in page.text
        assert "stack.pdf" in page.text
        assert (f"/api/dossiers/{b}/original?stack=true" in page.text) is offers_stack
    world.client.cookies.clear()
