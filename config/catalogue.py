"""The procedure catalogue (config/procedures.toml), loaded once into frozen objects."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_CATALOGUE = Path(__file__).with_name("procedures.toml")


@dataclass(frozen=True)
class FormSpec:
    """A kind of paper: the titles that identify it and the labels before each field."""

    titles: tuple[str, ...]
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class PaperSpec:
    """One paper of a procedure's dossier (a "thành phần hồ sơ")."""

    name: str  # as the procedure's list names it, Vietnamese
    kind: str | None = None  # the page kind that recognises it; None: checked by eye only
    code: str | None = None  # the national component code (MaThanhPhanHoSo), None: unknown
    required: bool = True


@dataclass(frozen=True)
class Procedure:
    procedure_id: str  # "doi-gplx", "lltp", ... : what the `procedure` field holds
    name: str
    keywords: tuple[str, ...]
    form: FormSpec
    required: tuple[str, ...]
    # Must its pages be colour scans? None: the global SOHOA_COLOUR_REQUIRED decides.
    colour_required: bool | None = None
    papers: tuple[PaperSpec, ...] = ()
    # The national portal's codes: MaTTHC and MaLinhVuc; None: not known (said, never invented).
    national_code: str | None = None
    sector_code: str | None = None


@dataclass(frozen=True)
class Catalogue:
    receipt: FormSpec
    id_card: FormSpec
    procedures: tuple[Procedure, ...]

    def procedure(self, procedure_id: str) -> Procedure | None:
        return next((p for p in self.procedures if p.procedure_id == procedure_id), None)

    def colour_required(self, procedure_id: str | None, default: bool) -> bool:
        """The procedure's own rule when it has one, else ``default``."""
        procedure = self.procedure(procedure_id) if procedure_id else None
        if procedure is None or procedure.colour_required is None:
            return default
        return procedure.colour_required


def _form(data: dict[str, object], titles_key: str = "titles") -> FormSpec:
    labels = data.get("labels", {})
    assert isinstance(labels, dict)
    return FormSpec(
        titles=tuple(data.get(titles_key, ())),  # type: ignore[arg-type]
        labels={name: tuple(values) for name, values in labels.items()},
    )


_PAPER_KINDS = frozenset({"receipt", "application_form", "id_copy"})


def _papers(procedure_id: str, entries: object) -> tuple[PaperSpec, ...]:
    if not isinstance(entries, list):
        raise ValueError(f"procedure {procedure_id}: papers must be a list of tables")
    papers = []
    for entry in entries:
        kind = entry.get("kind") or None
        if kind is not None and kind not in _PAPER_KINDS:
            raise ValueError(
                f"procedure {procedure_id}: paper kind {kind!r} is not one of "
                + ", ".join(sorted(_PAPER_KINDS))
            )
        papers.append(
            PaperSpec(
                name=str(entry["name"]),
                kind=kind,
                code=str(entry.get("code") or "") or None,
                required=bool(entry.get("required", True)),
            )
        )
    return tuple(papers)


def parse_catalogue(text: str) -> Catalogue:
    data = tomllib.loads(text)
    procedures = []
    for procedure_id, entry in data.get("procedures", {}).items():
        colour = entry.get("colour_required")
        if colour is not None and not isinstance(colour, bool):
            raise ValueError(f"procedure {procedure_id}: colour_required must be true or false")
        procedures.append(
            Procedure(
                procedure_id=procedure_id,
                name=str(entry.get("name", procedure_id)),
                keywords=tuple(entry.get("keywords", ())),
                form=_form(entry, "form_titles"),
                required=tuple(entry.get("required", ())),
                colour_required=colour,
                papers=_papers(procedure_id, entry.get("papers", [])),
                national_code=str(entry.get("national_code") or "") or None,
                sector_code=str(entry.get("sector_code") or "") or None,
            )
        )
    return Catalogue(
        receipt=_form(data.get("receipt", {})),
        id_card=_form(data.get("id_card", {})),
        procedures=tuple(procedures),
    )


@lru_cache(maxsize=4)
def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> Catalogue:
    return parse_catalogue(path.read_text(encoding="utf-8"))
