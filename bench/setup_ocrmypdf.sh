#!/usr/bin/env bash
# Install OCRmyPDF for bench/ocr.py, apart from the product's own .venv.
#
#   bash bench/setup_ocrmypdf.sh
#
# - bench/.venv-ocrmypdf: a separate virtualenv with `ocrmypdf` from PyPI (version pinned
#   below, override with OCRMYPDF_SPEC="ocrmypdf==X.Y.Z"); gitignored.
# - apt: unpaper (needed for `ocrmypdf --clean`), plus tesseract-ocr-vie, ghostscript and
#   qpdf if they are missing (they are already there on a machine set up by scripts/).
# Idempotent: does nothing that is already done.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-ocrmypdf"
PYTHON="${PYTHON:-python3}"
OCRMYPDF_SPEC="${OCRMYPDF_SPEC:-ocrmypdf==17.13.0}"

missing=()
command -v unpaper >/dev/null || missing+=(unpaper)
command -v gs >/dev/null || missing+=(ghostscript)
command -v qpdf >/dev/null || missing+=(qpdf)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v tesseract >/dev/null || missing+=(tesseract-ocr)
if ! tesseract --list-langs 2>/dev/null | grep -qx vie; then missing+=(tesseract-ocr-vie); fi
if ((${#missing[@]})); then
    echo "setup_ocrmypdf: apt-get install ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -x "$VENV/bin/ocrmypdf" ]]; then
    echo "setup_ocrmypdf: creating $VENV with $OCRMYPDF_SPEC" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "$OCRMYPDF_SPEC"
fi

"$VENV/bin/ocrmypdf" --version
