"""Pushing 100 archived dossiers to an agency's receiver on 127.0.0.1 (issue 27).

Makes N archived dossiers straight through the metadata store (no OCR: a small PDF each,
recorded with ``mark_archived``, which writes each outbox row in the same transaction),
starts the test's receiving application (tests/push_receiver.py: checks every signature,
keeps one body per Idempotency-Key), then times ``flows.push.push_until_idle``: claim,
build the handoff document with fresh links, sign the body, POST, mark delivered.

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/push.py [--dossiers 100] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    from flows import runtime
    from flows.push import push_until_idle
    from flows.runtime import metadata_store
    from tests.handoff_world import AGENCY, WORLD, archive_dossier, world_settings
    from tests.push_receiver import Receiver

    secret = "bench-shared-key-0123456789abcdef"
    with tempfile.TemporaryDirectory(prefix="sohoa-push-bench-") as tmp:
        root = Path(tmp)
        settings, _pki = world_settings(root)
        receiver = Receiver(secret).start()
        try:
            metadata_store(settings).set_agency_push(AGENCY, receiver.url, secret)
            began = time.perf_counter()
            for i in range(args.dossiers):
                archive_dossier(settings, f"d{i:04d}", WORLD[i % 2], signed=False, work=root / "w")
            made = time.perf_counter() - began
            began = time.perf_counter()
            report = push_until_idle(settings, "http://sohoa.bench", concurrency=args.concurrency)
            seconds = time.perf_counter() - began
        finally:
            receiver.stop()
            runtime.reset()
    kept = len(receiver.kept)
    print(
        f"push: {report.delivered} delivered ({kept} kept by the receiver, "
        f"{receiver.bad_signatures} bad signatures) in {seconds:.2f} s "
        f"({args.dossiers / seconds:.1f} dossiers/s, concurrency {args.concurrency}, "
        f"{os.cpu_count()} cpu); setup {made:.1f} s"
    )
    return 0 if kept == args.dossiers == report.delivered else 1


if __name__ == "__main__":
    sys.exit(main())
