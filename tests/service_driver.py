"""The service in its own process, for the crash tests (no Prefect: nothing is processed).

    python -m tests.service_driver DATA_DIR DATABASE_URL PORT

Run with ``SOHOA_FAULT=point:n`` it dies by SIGKILL at that point, in the middle of a request.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import uvicorn

from app.runner import BatchRunner
from app.service import create_app
from config import Settings


def _hold(*_args: Any) -> None:
    """Uploads are stored and recorded; what matters here is what a crash leaves."""


def main(argv: list[str]) -> int:
    data_dir, database_url, port = argv
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    app = create_app(settings, runner=BatchRunner(settings, run=_hold))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
