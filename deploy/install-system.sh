#!/usr/bin/env bash
# Debian packages the project runs and tests with; installs only what is missing.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in "$@"; do have "$pkg" || need+=("$pkg"); done
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's kamailio package may start a daemon on 5060 of every interface: clinicline runs
# its own instances with its own config, so the packaged one must not hold the port.
if command -v systemctl >/dev/null && systemctl is-enabled kamailio >/dev/null 2>&1; then
  systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
