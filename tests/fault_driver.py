"""One processing run of a batch in its own process, for the crash tests.

    python -m tests.fault_driver DATA_DIR BATCH_ID FILE...

Receives every file (originals first, as `sohoa process` and the service do), then runs
the batch flow's steps. Run with ``SOHOA_FAULT=point:n`` it dies by SIGKILL at that
point; run again with the same batch id it must finish the batch, whatever the crash left.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from config import Settings
from flows import steps
from flows.runtime import metadata_store
from models import BatchInfo
from storage import keys
from tests.service_support import run_steps


def main(argv: list[str]) -> int:
    data_dir, batch_id, *files = argv
    settings = Settings(data_dir=Path(data_dir), workers=2)
    meta = metadata_store(settings)
    meta.create_batch(BatchInfo(batch_id, datetime.now(UTC), "vie", len(files)))
    sources = [steps.SourceRef(str(Path(f).absolute()), Path(f).name) for f in files]
    for position, source in enumerate(sources):
        steps.receive_source(
            settings, batch_id, keys.dossier_id(batch_id, position), position, source
        )
    run_steps(settings, batch_id, sources, "vie")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
