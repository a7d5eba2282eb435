"""The dossier code's grammar (mã hồ sơ, TT 01/2018/TT-VPCP Art. 19).

Shared by the reader that finds codes on paper (``pipeline.extract``) and the store that
routes and searches by them (``storage.metadata``), so it sits in the bottom layer.
"""

from __future__ import annotations

import re
from datetime import date

# V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX, e.g. 000.17.22.H56-210531-0001
DOSSIER_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}$")
RECEIVING_UNIT = re.compile(r"^(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-")


def receiving_unit(dossier_code: str | None) -> str | None:
    """The receiving unit's identity code (QCVN 102:2016) a dossier code starts with.

    ``000.00.00.H49-230101-0001`` -> ``000.00.00.H49``: the agency the dossier goes to
    when the upload did not name one.
    """
    match = RECEIVING_UNIT.match(dossier_code or "")
    return match.group(1) if match else None


def received_on(dossier_code: str | None) -> date | None:
    """The day the one-stop desk received the dossier: the code's YYMMDD part.

    ``000.00.00.H49-230101-0001`` -> 2023-01-01; None for a code of another form or an
    impossible date (a misread "230231").
    """
    if not dossier_code or not DOSSIER_CODE.match(dossier_code):
        return None
    day = dossier_code.rsplit("-", 2)[1]
    try:
        return date(2000 + int(day[:2]), int(day[2:4]), int(day[4:6]))
    except ValueError:
        return None
