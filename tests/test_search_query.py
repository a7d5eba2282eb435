"""One builder makes the search query for the CLI, the API and the search page (issue 30):
the same criteria asked three ways give the same query."""

from __future__ import annotations

from datetime import date

import pytest

from app.cli import build_parser, search_query_from_args
from app.i18n import load_messages
from app.search_pages import build_query
from app.search_query import search_query
from models import DossierStatus, Principal, Role
from models.search import received_day

OPERATOR = Principal(token_id="t1", name="op", role=Role.OPERATOR)


def test_the_cli_the_api_and_the_page_ask_the_same_query() -> None:
    args = build_parser().parse_args(
        ["search", "--name", "lan", "--from", "2024-03-01", "--to", "2024-03-02", "phiếu"]
    )
    from_cli = search_query_from_args(args)
    from_api = search_query(
        name="lan", text="phiếu", received_from=received_day("2024-03-01", end=False),
        received_to=received_day("2024-03-02", end=True), limit=from_cli.limit,
    )  # fmt: skip
    form = {"name": "lan", "text": "phiếu", "date_from": "2024-03-01", "date_to": "2024-03-02",
            "sort": "newest"}  # fmt: skip
    from_page = build_query(OPERATOR, form, load_messages("vi"), limit=from_cli.limit, offset=0)
    assert from_cli == from_api == from_page
    assert from_cli.received_to is not None and from_cli.received_from is not None
    assert (from_cli.received_to - from_cli.received_from).days == 2


def test_empty_text_is_a_criterion_not_given_and_a_bad_day_is_named() -> None:
    query = search_query(code="", name="", text="", paper_from="2024-05-06", paper_to="")
    assert query.dossier_code is None and query.name is None and query.text is None
    assert query.paper_from == date(2024, 5, 6) and query.paper_to is None
    with pytest.raises(ValueError, match="not a date: '2024-13-01'"):
        search_query(paper_from="2024-13-01")
    with pytest.raises(ValueError, match="at most 20 words"):
        search_query(text=" ".join(["a"] * 21), status=DossierStatus.ARCHIVED)
