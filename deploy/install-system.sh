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
# Debian's kamailio and rtpengine packages may start daemons (kamailio on 5060 of every
# interface): clinicline runs its own instances with its own configs, so the packaged ones
# must not hold the ports.
for service in kamailio rtpengine-daemon; do
  if command -v systemctl >/dev/null && systemctl is-enabled "$service" >/dev/null 2>&1; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
