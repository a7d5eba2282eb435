"""Regenerate samples/id-copy.jpg: the ID copy the sample dossier's citizen forgot, as the
clerk scans it afterwards (the demo adds it with `sohoa rescan`).

The same person as samples/dossier-sample.pdf (Nguyễn Văn An, 022090012345, born
12/03/1990), drawn by the test generator's chip-CCCD photocopy (front with its QR, back).
Run: .venv/bin/python samples/make_id_copy.py
"""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import dossiers


def main() -> None:
    out = Path(__file__).resolve().parent / "id-copy.jpg"
    rng = random.Random(26)
    truth = dossiers.random_truth(rng, procedure="doi-gplx")
    person = replace(
        truth.person,
        full_name="Nguyễn Văn An",
        date_of_birth=date(1990, 3, 12),
        sex="Nam",
        id_number="022090012345",
        old_id=None,
        address="Phường Hồng Hải, thành phố Hạ Long, tỉnh Quảng Ninh",
        phone="0912345678",
        id_issue_date=date(2021, 4, 15),
    )
    image, _kind = dossiers.render_id_copy(replace(truth, person=person), dpi=200, rng=rng)
    image.convert("RGB").save(out, quality=80, dpi=(200, 200))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
