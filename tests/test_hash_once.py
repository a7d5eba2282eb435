"""Issue 30: each original is hashed exactly once on its way in (received, read, archived)
and once more by ``sohoa verify`` (which must re-read the bytes: it is the check).

The real entry point runs in a fresh interpreter, with SHA-256 watched at two depths: the
one hashing function everything goes through (``models.digest.sha256_chunks``), and
``hashlib.sha256`` itself, so a pass that went around the one function is counted too. A
pass counts for the original when its digest is the original's.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Runs `sohoa process --json FILE`, then `sohoa verify DOSSIER`, counting the SHA-256 passes
# whose digest is argv[1]; prints one JSON line of counts on stderr after each command.
WATCHER = r"""
import contextlib, hashlib, io, json, sys, threading

import models.digest

target, path = sys.argv[1], sys.argv[2]
counts = {"digest": 0, "hashlib": 0}
lock = threading.Lock()
real_chunks, real_sha256 = models.digest.sha256_chunks, hashlib.sha256


def counted_chunks(*args, **kwargs):
    size, sha = real_chunks(*args, **kwargs)
    if sha == target:
        with lock:
            counts["digest"] += 1
    return size, sha


class Watched:
    def __init__(self, data=b"", **kwargs):
        self._hash, self._seen = real_sha256(data, **kwargs), False
        self.name, self.digest_size, self.block_size = "sha256", 32, 64

    def update(self, data):
        self._hash.update(data)

    def _check(self, hex_digest):
        if hex_digest == target and not self._seen:
            self._seen = True
            with lock:
                counts["hashlib"] += 1

    def hexdigest(self):
        value = self._hash.hexdigest()
        self._check(value)
        return value

    def digest(self):
        value = self._hash.digest()
        self._check(value.hex())
        return value

    def copy(self):
        twin = Watched()
        twin._hash = self._hash.copy()
        return twin


models.digest.sha256_chunks = counted_chunks
hashlib.sha256 = Watched

from app.cli import main

out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["process", "--json", path])
report = json.loads(out.getvalue())
sys.stderr.write("COUNTS " + json.dumps({"code": code, **counts}) + "\n")
(dossier,) = report["dossiers"]
code = main(["verify", dossier["dossier_id"]])
sys.stderr.write("COUNTS " + json.dumps({"code": code, **counts}) + "\n")
"""


@pytest.mark.slow
def test_each_original_is_hashed_once_in_and_once_by_verify(
    samples_dir: Path, tmp_path: Path
) -> None:
    original = samples_dir / "two-pages.tiff"  # two pages: two page tasks, one copy read
    sha = hashlib.sha256(original.read_bytes()).hexdigest()
    env = {**os.environ, "SOHOA_DATA_DIR": str(tmp_path / "data"), "OMP_THREAD_LIMIT": "1"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    for name in ("PREFECT_API_URL", "SOHOA_ORCHESTRATOR", "SOHOA_DATABASE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", WATCHER, sha, str(original)],
        capture_output=True, text=True, env=env, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    processed, verified = [
        json.loads(line.split(" ", 1)[1])
        for line in done.stderr.splitlines()
        if line.startswith("COUNTS ")
    ]
    assert processed == {"code": 0, "digest": 1, "hashlib": 1}, done.stderr
    assert verified == {"code": 0, "digest": 2, "hashlib": 2}, done.stderr
