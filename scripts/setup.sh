#!/usr/bin/env bash
# Prepares a machine to run extentlog from this checkout: Debian packages (for the tests),
# npm dependencies, native addons and the TypeScript build. Idempotent and quick when
# nothing changed.
#
#   scripts/setup.sh          everything the tests need
#   scripts/setup.sh --demo   only what `extentlog demo` needs: the fileio addon's build
#                             packages when root (scripts/debian-packages-demo.txt; without
#                             them the demo falls back to pure Node.js), npm, the build
set -euo pipefail
cd "$(dirname "$0")/.."

mode=test
[ "${1:-}" = "--demo" ] && mode=demo

log() { printf '[setup] %s\n' "$*" >&2; }

# install_debian_packages LIST... — the packages of the lists that are not installed yet.
install_debian_packages() {
  local wanted=() missing=()
  mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$@")
  for pkg in "${wanted[@]}"; do
    pkg=$(echo "$pkg" | tr -d '[:space:]')
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})"
    return 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/tmp/extentlog-apt.log 2>&1; then
    log "refreshing package lists"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
  fi
}

install_npm_dependencies() {
  local want have=
  want=$(sha256sum package-lock.json | cut -c1-64)
  [ -f node_modules/.extentlog-lock-sha256 ] && have=$(cat node_modules/.extentlog-lock-sha256)
  [ "$want" = "$have" ] && return 0
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >node_modules/.extentlog-lock-sha256
}

if [ "$mode" = test ]; then
  install_debian_packages scripts/debian-packages.txt scripts/debian-packages-demo.txt
elif ! install_debian_packages scripts/debian-packages-demo.txt; then
  log "the fileio addon may not build: the demo will use its pure-Node.js options"
fi
install_npm_dependencies
bash scripts/build-native.sh
log "compiling TypeScript"
npx tsc -p tsconfig.json
