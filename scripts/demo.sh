#!/usr/bin/env bash
# Set everything up, then digitise the bundled sample dossier and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SOHOA_DATA_DIR="${SOHOA_DATA_DIR:-$PWD/sohoa-data}"
export PREFECT_SERVER_ANALYTICS_ENABLED=false

# A throwaway digitiser certificate, so the demo archive is signed as the law asks
# (TT 01/2023 Art. 8). A real counter configures its own PKCS#12 (see README).
if [ ! -f "$SOHOA_DATA_DIR/demo-signer/digitiser.p12" ]; then
  .venv/bin/sohoa signer demo --name "Nguyễn Thị Demo" -o "$SOHOA_DATA_DIR/demo-signer" >/dev/null
fi
export SOHOA_SIGNING_PKCS12="$SOHOA_DATA_DIR/demo-signer/digitiser.p12"
export SOHOA_SIGNING_PASSWORD_FILE="$SOHOA_DATA_DIR/demo-signer/password.txt"
export SOHOA_DIGITISER_NAME="Nguyễn Thị Demo"
export SOHOA_TRUST_ROOTS="$SOHOA_DATA_DIR/demo-signer/root-ca.pem"

echo "== sohoa process samples/dossier-sample.pdf" >&2
.venv/bin/sohoa process --json samples/dossier-sample.pdf | tee "$SOHOA_DATA_DIR.last-batch.json"
# Run again, the sample is the same bytes: sohoa keeps it once, so show the dossier that has it.
dossier=$(.venv/bin/python -c 'import json,sys; d=json.load(open(sys.argv[1]))["dossiers"][0]; print(d["duplicate_of"] or d["dossier_id"])' "$SOHOA_DATA_DIR.last-batch.json")
rm -f "$SOHOA_DATA_DIR.last-batch.json"

# At the counter: the sample's citizen forgot the ID copy the procedure requires, and the
# verdict says so. The clerk scans it and adds it to the same dossier (rescan in place).
pages=$(.venv/bin/sohoa show --json "$dossier" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["pages"])')
if [ "$pages" = "3" ]; then  # as first taken in; a second demo run finds it complete
  echo "== sohoa rescan $dossier samples/id-copy.jpg (the missing ID copy, added)" >&2
  .venv/bin/sohoa rescan "$dossier" samples/id-copy.jpg --by "Nguyễn Thị Demo"
fi

echo "== sohoa show $dossier" >&2
.venv/bin/sohoa show "$dossier"
mkdir -p "$SOHOA_DATA_DIR/out"
.venv/bin/sohoa get "$dossier" --pdf -o "$SOHOA_DATA_DIR/out/$dossier.pdf"
echo "== searchable PDF: $SOHOA_DATA_DIR/out/$dossier.pdf; its text layer (pdftotext) begins:" >&2
pdftotext -enc UTF-8 "$SOHOA_DATA_DIR/out/$dossier.pdf" - | head -n 15
echo "== sohoa verify $dossier (objects against the manifest, the digitiser's signature)" >&2
.venv/bin/sohoa verify "$dossier"
