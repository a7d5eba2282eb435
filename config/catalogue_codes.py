"""Loading an updated list of national codes into the catalogue (``sohoa catalogue load``).

The portal's catalogue (``LayThuTuc``) gives each procedure its code (MaTTHC), its sector
(MaLinhVuc) and each paper of its dossier a component code (MaThanhPhanHoSo). A province
hands these out as a list; this module writes them into ``procedures.toml`` in place,
keeping every comment and line it does not change, and only when the whole list is valid:
an unknown procedure or paper, or a code that is not shaped like one, changes nothing.

List shapes: JSON ``[{"procedure": "doi-gplx", "national_code": "...", "sector_code": "...",
"papers": [{"name": "...", "code": "..."}]}]`` (a paper named by its catalogue name, or by
its ``kind``), or CSV with the header ``procedure,paper,code``: an empty ``paper`` is the
procedure's MaTTHC, ``@sector`` its MaLinhVuc, anything else a paper's name or kind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.catalogue import Catalogue, parse_catalogue

# Codes seen on the portal: 1.011442.000.00.00.H38 (MaTTHC), 000.00.01.H22 (agencies);
# component codes are free text in provincial systems. Letters, digits, dots, dashes.
CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
SECTOR = "@sector"


@dataclass(frozen=True)
class CodeUpdate:
    procedure: str
    target: str  # "" the procedure's MaTTHC, SECTOR its MaLinhVuc, else a paper's name/kind
    code: str  # "" clears a code (it becomes "not known")


class CatalogueLoadError(ValueError):
    pass


def parse_code_list(text: str, *, name: str) -> list[CodeUpdate]:
    """The list in ``text`` (JSON when it opens with ``[`` or ``{``, else CSV)."""
    stripped = text.lstrip("\ufeff").strip()
    updates: list[CodeUpdate] = []
    if stripped[:1] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CatalogueLoadError(f"{name}: not JSON ({exc})") from None
        entries = data.get("procedures", []) if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise CatalogueLoadError(f"{name}: expected a list of procedures")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("procedure"), str):
                raise CatalogueLoadError(f"{name}: every entry needs a 'procedure' id")
            procedure = entry["procedure"]
            for key, target in (("national_code", ""), ("sector_code", SECTOR)):
                if key in entry:
                    updates.append(CodeUpdate(procedure, target, str(entry[key] or "")))
            for paper in entry.get("papers", []) or []:
                if not isinstance(paper, dict) or "code" not in paper:
                    raise CatalogueLoadError(f"{name}: {procedure}: a paper needs 'code'")
                target = str(paper.get("name") or paper.get("kind") or "")
                if not target:
                    raise CatalogueLoadError(f"{name}: {procedure}: a paper needs a name or kind")
                updates.append(CodeUpdate(procedure, target, str(paper["code"] or "")))
        return updates
    reader = csv.DictReader(io.StringIO(stripped))
    if reader.fieldnames is None or not {"procedure", "paper", "code"} <= set(reader.fieldnames):
        raise CatalogueLoadError(f"{name}: CSV needs the header procedure,paper,code")
    for number, row in enumerate(reader, start=2):
        procedure = (row.get("procedure") or "").strip()
        if not procedure:
            raise CatalogueLoadError(f"{name} line {number}: no procedure")
        updates.append(
            CodeUpdate(procedure, (row.get("paper") or "").strip(), (row.get("code") or "").strip())
        )
    return updates


def _check(updates: list[CodeUpdate], catalogue: Catalogue, name: str) -> None:
    for update in updates:
        procedure = catalogue.procedure(update.procedure)
        if procedure is None:
            raise CatalogueLoadError(f"{name}: no procedure {update.procedure!r} in the catalogue")
        if update.code and not CODE.fullmatch(update.code):
            raise CatalogueLoadError(
                f"{name}: {update.procedure}: {update.code!r} is not shaped like a code"
            )
        if update.target in ("", SECTOR):
            continue
        matches = [p for p in procedure.papers if update.target in (p.name, p.kind)]
        if len(matches) != 1:
            raise CatalogueLoadError(
                f"{name}: {update.procedure}: "
                + ("no paper" if not matches else "several papers")
                + f" named {update.target!r}"
            )


def apply_codes(toml_text: str, updates: list[CodeUpdate], *, name: str = "list") -> str:
    """``toml_text`` with the codes replaced; the catalogue it parses to is checked first."""
    _check(updates, parse_catalogue(toml_text), name)
    wanted = {(u.procedure, u.target): u.code for u in updates}
    lines = toml_text.splitlines(keepends=True)
    header = re.compile(r"^\s*\[\[?\s*procedures\.([A-Za-z0-9_-]+)(\.papers)?\s*\]\]?\s*$")
    any_header = re.compile(r"^\s*\[")
    assignment = re.compile(r'^(\s*)(national_code|sector_code|code|name|kind)\s*=\s*"(.*)"\s*$')
    procedure: str | None = None
    in_paper = False
    paper_lines: dict[str, int] = {}
    paper_keys: list[str] = []
    out = list(lines)

    def flush() -> None:
        # A paper's code line is rewritten once its block (name and kind) is read.
        if "code" in paper_lines and procedure is not None:
            for key in paper_keys:
                if (procedure, key) in wanted:
                    line = out[paper_lines["code"]]
                    indent = line[: len(line) - len(line.lstrip())]
                    value = json.dumps(wanted[(procedure, key)], ensure_ascii=False)
                    out[paper_lines["code"]] = f"{indent}code = {value}\n"
                    break

    for index, line in enumerate(lines):
        match = header.match(line)
        if match or any_header.match(line):
            if in_paper:
                flush()
            paper_lines, paper_keys = {}, []
            in_paper = bool(match and match.group(2))
            procedure = match.group(1) if match else None
            if match is None:
                procedure = None
            continue
        found = assignment.match(line)
        if found is None or procedure is None:
            continue
        key, value = found.group(2), found.group(3)
        if in_paper:
            if key in ("name", "kind"):
                paper_keys.append(json.loads(f'"{value}"'))
            elif key == "code":
                paper_lines["code"] = index
        elif key in ("national_code", "sector_code"):
            target = "" if key == "national_code" else SECTOR
            if (procedure, target) in wanted:
                value = json.dumps(wanted[(procedure, target)], ensure_ascii=False)
                out[index] = f"{found.group(1)}{key} = {value}\n"
    if in_paper:
        flush()
    text = "".join(out)
    catalogue = parse_catalogue(text)  # what is written must load
    for update in updates:  # and must say what the list said
        procedure_spec = catalogue.procedure(update.procedure)
        assert procedure_spec is not None
        if update.target == "":
            got = procedure_spec.national_code
        elif update.target == SECTOR:
            got = procedure_spec.sector_code
        else:
            got = next(p.code for p in procedure_spec.papers if update.target in (p.name, p.kind))
        if (got or "") != update.code:
            raise CatalogueLoadError(
                f"{name}: {update.procedure}: the catalogue file has no line to hold "
                f'{update.target or "national_code"} (add `code = ""` there first)'
            )
    return text


def load_codes(catalogue_path: Path, list_path: Path) -> list[CodeUpdate]:
    """Apply the list at ``list_path`` to the catalogue file, atomically (all or nothing)."""
    updates = parse_code_list(list_path.read_text(encoding="utf-8"), name=list_path.name)
    text = apply_codes(catalogue_path.read_text(encoding="utf-8"), updates, name=list_path.name)
    fd, tmp = tempfile.mkstemp(dir=catalogue_path.parent, prefix=f".{catalogue_path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, catalogue_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return updates
