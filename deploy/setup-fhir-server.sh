#!/usr/bin/env bash
# The FHIR R4 server the EHR adapter is tested against (sekmet-fhir), in a venv of its own:
# its FastAPI/pydantic pins are not ours, and the product itself never imports it.
set -euo pipefail
venv="${1:-.venv-fhir}"
[ -x "$venv/bin/sekmet" ] && exit 0
py="$(command -v python3.11 || command -v python3)"
echo "creating the FHIR test server's venv with $py (about a minute)"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q -U pip
"$venv/bin/pip" install -q -r requirements/fhir-server.txt
