#!/usr/bin/env bash
# The Rasa server's own venv on Python 3.10 (Rasa 3.6 does not install on 3.11).
set -euo pipefail
venv="${1:-.venv-rasa}"
[ -x "$venv/bin/rasa" ] && exit 0
py=""
for candidate in python3.10 "$HOME/.pyenv/versions/3.10.13/bin/python3.10" /root/.pyenv/versions/3.10.13/bin/python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    py="$candidate"; break
  fi
done
if [ -z "$py" ] && command -v pyenv >/dev/null; then
  py="$(PYENV_VERSION=3.10.13 pyenv which python3.10 2>/dev/null || true)"
fi
if [ -z "$py" ] && command -v uv >/dev/null; then
  uv python install 3.10 && py="$(uv python find 3.10)"
fi
[ -n "$py" ] || { echo "setup-rasa: Python 3.10 not found (PATH, pyenv or uv)" >&2; exit 1; }
echo "creating the Rasa venv with $py (about 2 minutes)"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q -U "pip<24.1"
RASA_TELEMETRY_ENABLED=false "$venv/bin/pip" install -q -r requirements/rasa.txt
RASA_TELEMETRY_ENABLED=false "$venv/bin/rasa" telemetry disable >/dev/null 2>&1 || true
