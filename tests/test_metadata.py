"""The metadata store on SQLite and on a real PostgreSQL: migrations, search, audit."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from models import BatchInfo, DossierStatus, FieldInfo, SearchQuery
from storage.metadata import Base, MetadataStore
from storage.migrate import SHIPPED_HEAD, current_revision, head_revision, upgrade_schema

REPO = Path(__file__).resolve().parent.parent

PEOPLE = [
    # (code, id number, name, procedure, text)
    ("000.00.00.H49-230101-0001", "001090123456", "Nguyễn Văn A", "doi-gplx", "giấy phép lái xe"),
    ("000.00.00.H49-230101-0002", "001190654321", "Trần Thị Bích", "lltp", "lý lịch tư pháp"),
    ("000.17.22.H56-230102-0001", "079085000111", "Nguyễn Văn Anh", "doi-gplx", "hạng B2 lái xe"),
    ("000.17.22.H56-230102-0002", "038301000222", "Đặng Đức Đạt", "lltp", "phiếu số 2"),
]


def _archive(meta: MetadataStore, n: int, *, agency: str | None = None, at: datetime) -> str:
    code, id_number, name, procedure, text = PEOPLE[n]
    batch = f"b{n}"
    meta.create_batch(BatchInfo(batch, at, "vie", 1, agency_code=agency, counter_id="q1"))
    dossier_id = f"{batch}-001"
    meta.add_dossier(dossier_id, batch, 0, f"scan{n}.pdf")
    meta.mark_archived(
        dossier_id,
        fields=[
            FieldInfo("dossier_code", code, "qr", 0.99),
            FieldInfo("id_number", id_number, "qr", 0.99),
            FieldInfo("full_name", name, "ocr", 0.8, needs_review=n == 1, note="QR disagrees"),
            FieldInfo("procedure", procedure, "ocr", 0.9),
        ],
        review_reasons=["full_name: QR disagrees"] if n == 1 else [],
        text=f"Đơn đề nghị {text}\fTrang hai",
    )
    # Received dates spread out so date ranges and ordering can be checked.
    with meta.engine.begin() as connection:
        from sqlalchemy import update

        from storage.metadata import DossierRow

        connection.execute(
            update(DossierRow).where(DossierRow.dossier_id == dossier_id).values(created_at=at)
        )
    return dossier_id


@pytest.fixture
def filled(database_url: str) -> MetadataStore:
    meta = MetadataStore(database_url)
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    for n in range(len(PEOPLE)):
        _archive(meta, n, agency="SGTVT-HN" if n == 0 else None, at=base + timedelta(days=n))
    yield meta
    meta.close()


def _ids(meta: MetadataStore, **criteria: object) -> list[str]:
    return [d.dossier_id for d in meta.search(SearchQuery(**criteria)).items]  # type: ignore[arg-type]


def test_the_shipped_head_is_alembics_head_and_a_current_database_needs_no_alembic(
    tmp_path: Path,
) -> None:
    """Start-up compares the database with SHIPPED_HEAD without loading Alembic: the
    constant must name the newest migration, or a new one would never be applied."""
    assert head_revision() == SHIPPED_HEAD
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    MetadataStore(url).close()
    code = (
        "import sys\n"
        "from storage.metadata import MetadataStore\n"
        f"MetadataStore({url!r}).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_fresh_database_is_migrated_to_head_and_matches_the_models(database_url: str) -> None:
    meta = MetadataStore(database_url)
    assert current_revision(meta.engine) == head_revision()
    assert upgrade_schema(meta.engine) is False  # idempotent: nothing left to apply
    with meta.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # The full-text index is an expression index the models cannot describe.
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name == "ix_dossier_texts_tsv")]
    # Nor SQLite's FTS5 table (and the tables it keeps itself), nor PostgreSQL's stored
    # tsvector and its index: migration 0010's, each on its own database.
    diff = [
        d
        for d in diff
        if not (d[0] == "remove_table" and d[1].name.startswith("dossier_texts_fts"))
        and not (d[0] == "remove_index" and d[1].name == "ix_dossier_texts_tsv_stored")
        and not (d[0] == "remove_column" and d[3].name == "text_tsv")
    ]
    assert diff == []
    meta.close()


def test_search_by_each_criterion(filled: MetadataStore) -> None:
    meta = filled
    assert _ids(meta, dossier_code="000.17.22.H56-230102-0001") == ["b2-001"]
    assert _ids(meta, dossier_code="000.00.00.h49") == ["b1-001", "b0-001"]  # prefix, any case
    assert _ids(meta, id_number="0011 9065 4321") == ["b1-001"]
    assert _ids(meta, name="nguyen van a") == ["b2-001", "b0-001"]  # "... Anh" starts so
    assert _ids(meta, name="van anh") == ["b2-001"]  # any part of a name
    assert _ids(meta, name="bích") == ["b1-001"]  # a given name alone
    assert _ids(meta, id_number="654321") == ["b1-001"]  # part of an ID number
    assert _ids(meta, dossier_code="230102-0002") == ["b3-001"]  # the end of a code
    assert _ids(meta, name="NGUYỄN VĂN ANH") == ["b2-001"]
    assert _ids(meta, name="dang duc dat") == ["b3-001"]  # đ folds to d
    assert _ids(meta, procedure="lltp") == ["b3-001", "b1-001"]
    # An upload that named its agency keeps it; others are routed by their dossier code.
    assert _ids(meta, agency_code="SGTVT-HN") == ["b0-001"]
    assert _ids(meta, agency_code="000.00.00.H49") == ["b1-001"]
    assert _ids(meta, agency_code="000.17.22.H56") == ["b3-001", "b2-001"]
    day = datetime(2026, 3, 2, tzinfo=UTC)
    assert _ids(meta, received_from=day, received_to=day + timedelta(days=2)) == [
        "b2-001",
        "b1-001",
    ]
    assert _ids(meta, text="lai xe") == ["b2-001", "b0-001"]  # words, diacritics optional
    assert _ids(meta, text="lý lịch") == ["b1-001"]
    assert _ids(meta, text="phieu so 2") == ["b3-001"]
    assert _ids(meta, text="xe", procedure="lltp") == []  # criteria combine
    assert _ids(meta, needs_review=True) == ["b1-001"]
    assert _ids(meta, status=DossierStatus.FAILED) == []
    assert _ids(meta, name="100%_") == []  # LIKE wildcards are literal


def test_search_sorts_and_counts(filled: MetadataStore) -> None:
    by_name = filled.search(SearchQuery(sort="name"))
    assert [d.full_name for d in by_name.items] == [
        "Đặng Đức Đạt", "Nguyễn Văn A", "Nguyễn Văn Anh", "Trần Thị Bích",
    ]  # fmt: skip
    assert _ids(filled, sort="oldest") == ["b0-001", "b1-001", "b2-001", "b3-001"]
    assert _ids(filled, sort="code")[0] == "b0-001"
    assert filled.count(SearchQuery(name="nguyen van")) == 2
    assert filled.count(SearchQuery()) == 4
    assert filled.count(SearchQuery(), cap=2) == 3  # counted to the cap, then "more"
    with pytest.raises(ValueError, match="sort"):
        SearchQuery(sort="random")
    texts = filled.search_texts(["b3-001", "nope"])
    assert list(texts) == ["b3-001"] and "phieu so 2" in texts["b3-001"]


def test_search_pages_newest_first(filled: MetadataStore) -> None:
    first = filled.search(SearchQuery(limit=3))
    assert [d.dossier_id for d in first.items] == ["b3-001", "b2-001", "b1-001"]
    assert first.has_more
    second = filled.search(SearchQuery(limit=3, offset=3))
    assert [d.dossier_id for d in second.items] == ["b0-001"] and not second.has_more
    with pytest.raises(ValueError):
        SearchQuery(limit=0)


def test_field_correction_is_audited_and_clears_review(filled: MetadataStore) -> None:
    meta = filled
    assert meta.get_dossier("b1-001").needs_review
    correction = meta.correct_field(
        "b1-001", "full_name", "Trần Thị Bích Ngọc", corrected_by="op.lan", note="from the CCCD"
    )
    assert correction.old_value == "Trần Thị Bích"
    info = meta.get_dossier("b1-001")
    assert not info.needs_review and info.review_reasons == ()
    assert info.full_name == "Trần Thị Bích Ngọc"
    field = next(f for f in info.field_details if f.name == "full_name")
    assert (field.source, field.needs_review) == ("operator", False)
    assert _ids(meta, name="tran thi bich ngoc") == ["b1-001"]  # search follows the correction
    (audit,) = meta.corrections("b1-001")
    assert (audit.corrected_by, audit.new_value) == ("op.lan", "Trần Thị Bích Ngọc")
    assert audit.corrected_at.tzinfo is not None
    *_, last = meta.events("b1-001")
    assert "full_name corrected" in (last[2] or "")
    with pytest.raises(ValueError):
        meta.correct_field("b1-001", "full_name", "x", corrected_by="")


def test_duplicate_originals_are_found_and_recorded(database_url: str) -> None:
    meta = MetadataStore(database_url)
    now = datetime.now(UTC)
    meta.create_batch(BatchInfo("b1", now, "vie", 2, uploaded_by="clerk", post_office_id="HN-01"))
    for dossier_id in ("b1-001", "b1-002"):
        meta.add_dossier(dossier_id, "b1", 0, "scan.pdf")
    meta.record_original(
        "b1-001", key="k", sha256="ab" * 32, size=5, media_type="application/pdf", page_count=1
    )
    assert meta.find_original("ab" * 32, agency_code=None, other_than="b1-002") == "b1-001"
    assert meta.find_original("ab" * 32, agency_code=None, other_than="b1-001") is None
    # Within one agency's scope: b1 named no agency, so to an agency's upload it is unknown.
    assert meta.find_original("ab" * 32, agency_code="000.00.00.H49", other_than="x") is None
    meta.create_batch(BatchInfo("b2", now, "vie", 1, agency_code="000.00.00.H49"))
    meta.add_dossier("b2-001", "b2", 0, "scan.pdf")
    meta.record_original(
        "b2-001", key="k2", sha256="ef" * 32, size=5, media_type="application/pdf", page_count=1
    )
    assert meta.find_original("ef" * 32, agency_code="000.00.00.H49", other_than="x") == "b2-001"
    assert meta.find_original("ef" * 32, agency_code="000.17.22.H56", other_than="x") is None
    meta.mark_duplicate("b1-002", of="b1-001", sha256="ab" * 32, size=5)
    info = meta.get_dossier("b1-002")
    assert (info.status, info.duplicate_of) == (DossierStatus.DUPLICATE, "b1-001")
    assert meta.get_batch("b1").post_office_id == "HN-01"
    # The original of a dossier is write-once in the database too.
    from models.errors import StorageError

    with pytest.raises(StorageError, match="another SHA-256"):
        meta.record_original(
            "b1-001", key="k", sha256="cd" * 32, size=5, media_type=None, page_count=1
        )
    meta.close()


def test_concurrent_first_starts_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            MetadataStore(database_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    meta = MetadataStore(database_url)
    assert current_revision(meta.engine) == head_revision()
    meta.close()


def test_field_evidence_is_kept_and_not_on_papers_recorded(database_url: str) -> None:
    from models import FieldCandidate, FieldState

    meta = MetadataStore(database_url)
    meta.create_batch(BatchInfo("b9", datetime.now(UTC), "vie", 1))
    meta.add_dossier("b9-001", "b9", 0, "scan.pdf")
    candidates = (
        FieldCandidate("Nguyễn Văn An", "ocr", 0.9, "receipt page 1", "receipt", 0),
        FieldCandidate("Nguyễn Văn Bình", "qr", 0.99, "citizen-ID QR, page 3", "citizen_id_qr", 2),
    )
    meta.mark_archived(
        "b9-001",
        fields=[
            FieldInfo("full_name", "Nguyễn Văn An", "ocr", 0.5, True, "x", candidates),
            FieldInfo(
                "phone",
                "",
                "ocr",
                0.0,
                needs_review=True,
                state=FieldState.HANDWRITTEN,
                crop_key="dossiers/b9-001/crops/0001-phone.png",
                suggestion="0912345678",
                suggestion_confidence=0.4,
            ),
        ],
        review_reasons=["full_name: conflict: ...", "phone: handwritten: ..."],
    )
    info = meta.get_dossier("b9-001")
    by_name = {f.name: f for f in info.field_details}
    assert by_name["full_name"].candidates == candidates
    phone = by_name["phone"]
    assert (phone.state, phone.crop_key, phone.suggestion) == (
        "handwritten",
        "dossiers/b9-001/crops/0001-phone.png",
        "0912345678",
    )
    assert "phone" not in info.fields  # no value to search by until a person keys it in
    meta.correct_field("b9-001", "phone", "ignored", corrected_by="op", not_on_papers=True)
    info = meta.get_dossier("b9-001")
    phone = next(f for f in info.field_details if f.name == "phone")
    assert (phone.state, phone.value, phone.needs_review) == ("not_on_papers", "", False)
    assert info.review_reasons == ("full_name: conflict: ...",)
    *_, last = meta.events("b9-001")
    assert "not on the papers" in (last[2] or "")
    meta.close()


def test_upgrade_from_0003_keeps_fields_as_read(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    upgrade_schema(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batches (batch_id, created_at, lang, source_count) "
                "VALUES ('b1', CURRENT_TIMESTAMP, 'vie', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO dossiers (dossier_id, batch_id, position, source_name, status, "
                "page_count, fields, needs_review, review_reasons, source_pages, created_at, "
                "updated_at) VALUES ('b1-001', 'b1', 0, 's.pdf', 'archived', 1, '{}', false, "
                "'[]', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO fields (dossier_id, name, value, source, confidence, needs_review) "
                "VALUES ('b1-001', 'full_name', 'An', 'ocr', 0.9, false)"
            )
        )
    assert upgrade_schema(engine) is True
    engine.dispose()
    meta = MetadataStore(database_url)
    (field,) = meta.get_dossier("b1-001").field_details
    assert (field.value, field.state, field.candidates, field.crop_key) == ("An", "read", (), None)
    meta.close()


def test_a_day_received_is_vietnams_day_on_every_database(filled: MetadataStore) -> None:
    """A dossier received at 00:30 in Hà Nội (17:30 UTC the day before) is found under its
    Vietnamese day: SQLite compares stored text, so bounds must be in UTC as times are."""
    from sqlalchemy import text

    from models.search import received_day

    with filled.engine.begin() as connection:
        connection.execute(
            text("UPDATE dossiers SET created_at = :moment WHERE dossier_id = 'b1-001'"),
            {"moment": datetime(2026, 11, 30, 17, 30, tzinfo=UTC)},
        )
    day = SearchQuery(
        received_from=received_day("2026-12-01", end=False),
        received_to=received_day("2026-12-01", end=True),
    )
    assert [d.dossier_id for d in filled.search(day).items] == ["b1-001"]
    before = SearchQuery(received_to=received_day("2026-11-30", end=True))
    assert "b1-001" not in [d.dossier_id for d in filled.search(before).items]


# Issue 29: the receipt names "nơi cấp" and "cấp" apart on page 1; the ID card copy on
# page 2 holds the phrase. Texts recorded directly (no OCR), as agencies' search reads them.
RANKED = [
    ("r-scatter", "000.00.00.H49-260301-0001",
     # Each word, more often than the phrase has them: bm25 alone would put this first.
     "Nội dung cấp lại; cấp đổi. Nơi nhận: Cục thuế, cục hải quan. Cảnh báo: sát ngày, "
     "cảnh giác, sát hạn, nơi khác\fTrang hai"),
    ("r-phrase", "000.00.00.H49-260305-0002",
     "Giấy tiếp nhận hồ sơ\fCăn cước công dân, nơi cấp: Cục Cảnh sát quản lý hành chính"),
    ("r-none", "000.00.00.H49-260305-0003", "Đơn đề nghị cấp phiếu lý lịch tư pháp"),
]  # fmt: skip


@pytest.fixture
def ranked(database_url: str) -> MetadataStore:
    meta = MetadataStore(database_url)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    meta.create_batch(BatchInfo("rb", at, "vie", len(RANKED), counter_id="q1"))
    for n, (dossier_id, code, text) in enumerate(RANKED):
        meta.add_dossier(dossier_id, "rb", n, f"{dossier_id}.pdf")
        meta.mark_archived(
            dossier_id, fields=[FieldInfo("dossier_code", code, "qr", 0.99)], text=text
        )
    yield meta
    meta.close()


def test_text_search_ranks_phrases_first_and_needs_every_word(ranked: MetadataStore) -> None:
    def ranked_ids(text: str) -> list[str]:
        return _ids(ranked, text=text, sort="relevance")

    # Every word must be there: the third dossier has "cấp" but not "cục cảnh sát".
    assert sorted(ranked_ids("noi cap cuc canh sat")) == ["r-phrase", "r-scatter"]
    # Typed without quotes, the dossier holding the words as one phrase comes first.
    assert ranked_ids("noi cap cuc canh sat")[0] == "r-phrase"
    # Quoted: only the phrase matches.
    assert ranked_ids('"noi cap cuc canh sat"') == ["r-phrase"]
    assert ranked_ids('"cuc canh sat" noi') == ["r-phrase"]
    assert ranked_ids('"sat cuc"') == []
    assert ranked.count(SearchQuery(text='"noi cap cuc canh sat"')) == 1
    assert ranked.count(SearchQuery(text="noi cap")) == 2
    # The same criteria under another order; a quote alone asks for nothing.
    assert _ids(ranked, text='"cuc canh sat"', sort="oldest") == ["r-phrase"]
    assert len(_ids(ranked, text='"', sort="relevance")) == 3


def test_search_by_the_day_on_the_receipt(ranked: MetadataStore) -> None:
    from datetime import date

    day = date(2026, 3, 5)
    assert sorted(_ids(ranked, paper_from=day, paper_to=day)) == ["r-none", "r-phrase"]
    assert _ids(ranked, paper_to=date(2026, 3, 4)) == ["r-scatter"]
    assert _ids(ranked, paper_from=date(2026, 3, 6)) == []


def test_saved_searches_belong_to_their_owner(ranked: MetadataStore) -> None:
    first = ranked.save_search("user:lan", "Cục cảnh sát", "text=cuc+canh+sat")
    assert first is not None
    assert ranked.save_search("user:lan", "Cục cảnh sát", "text=noi+cap") == first  # replaced
    assert ranked.saved_searches("user:lan") == [(first, "Cục cảnh sát", "text=noi+cap")]
    assert ranked.saved_searches("user:other") == []
    assert ranked.delete_saved_search("user:other", first) is False
    assert ranked.delete_saved_search("user:lan", first) is True
    assert ranked.saved_searches("user:lan") == []


def test_migration_0010_fills_the_receipt_day_and_the_text_index(database_url: str) -> None:
    """Dossiers archived before 0010 get their receipt day from their code, and (SQLite)
    their texts in the FTS5 table, so a ranked phrase search finds them at once."""
    from datetime import date

    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    upgrade_schema(engine, "0009")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batches (batch_id, created_at, lang, source_count) "
                "VALUES ('old', CURRENT_TIMESTAMP, 'vie', 2)"
            )
        )
        for n, code in enumerate(["000.00.00.H49-250714-0001", "000.00.00.H49-250231-0002"]):
            connection.execute(
                text(
                    "INSERT INTO dossiers (dossier_id, batch_id, position, source_name, status, "
                    "page_count, dossier_code, fields, needs_review, review_reasons, "
                    "source_pages, created_at, updated_at) VALUES (:id, 'old', :n, 'x.pdf', "
                    "'archived', 1, :code, '{}', false, '[]', '[]', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"id": f"old-{n}", "n": n, "code": code},
            )
            connection.execute(
                text("INSERT INTO dossier_texts (dossier_id, text_folded) VALUES (:id, :t)"),
                {"id": f"old-{n}", "t": " noi cap cuc canh sat "},
            )
    assert upgrade_schema(engine) is True
    engine.dispose()
    meta = MetadataStore(database_url)
    assert _ids(meta, paper_from=date(2025, 7, 14), paper_to=date(2025, 7, 14)) == ["old-0"]
    assert sorted(_ids(meta, text='"cuc canh sat"', sort="relevance")) == ["old-0", "old-1"]
    meta.close()


def test_migration_0010_goes_down_and_up_again(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from storage.migrate import _config

    engine = create_engine(database_url)
    upgrade_schema(engine)
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0009")
    assert current_revision(engine) == "0009"
    assert upgrade_schema(engine) is True
    assert current_revision(engine) == SHIPPED_HEAD
    engine.dispose()
