#!/usr/bin/env bash
# Prepares a machine to run extentlog from this checkout: Debian packages (for the tests),
# npm dependencies, native addons, the optional librdkafka driver and the TypeScript build.
# Idempotent and quick when nothing changed.
#
#   scripts/setup.sh               everything the tests need (librdkafka driver included)
#   scripts/setup.sh --demo        only what `extentlog demo` needs (no Debian packages)
#   scripts/setup.sh --librdkafka  what running extentlog needs, plus the librdkafka log driver
#                                  (log/librdkafka: builds librdkafka once, about 2 minutes,
#                                  with the Debian packages marked 'librdkafka-build')
set -euo pipefail
cd "$(dirname "$0")/.."

mode=test
librdkafka=no
for arg in "$@"; do
  case "$arg" in
    --demo) mode=demo ;;
    --librdkafka) mode=run librdkafka=yes ;;
    *)
      printf 'usage: scripts/setup.sh [--demo | --librdkafka]\n' >&2
      exit 2
      ;;
  esac
done
[ "$mode" = test ] && librdkafka=yes

log() { printf '[setup] %s\n' "$*" >&2; }

# Installs the packages of scripts/debian-packages.txt; with an argument, only the lines
# whose comment carries that tag.
install_debian_packages() {
  local tag=${1:-} wanted=() missing=()
  mapfile -t wanted < <(
    if [ -n "$tag" ]; then grep -E "#.*\\b${tag}\\b" scripts/debian-packages.txt; else cat scripts/debian-packages.txt; fi |
      sed -e 's/#.*//' -e '/^[[:space:]]*$/d'
  )
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

# The librdkafka driver's own package (log/librdkafka/package.json and its lockfile). Its
# install compiles the bundled librdkafka as a shared library against Debian's OpenSSL,
# zlib, zstd, lz4, SASL and curl (CKJS_LINKING=dynamic: the static default downloads those
# libraries' sources). The stamp covers the lockfile and the Node.js ABI it was built for.
install_librdkafka_driver() {
  local dir=log/librdkafka want have=
  want=$({ cat "$dir/package.json" "$dir/package-lock.json"; node -p 'process.versions.modules + process.arch'; } | sha256sum | cut -c1-64)
  [ -f "$dir/node_modules/.extentlog-stamp" ] && have=$(cat "$dir/node_modules/.extentlog-stamp")
  [ "$want" = "$have" ] && return 0
  log "installing the librdkafka log driver (compiles librdkafka, about 2 minutes)"
  if ! (cd "$dir" && CKJS_LINKING=dynamic npm ci --no-audit --no-fund --loglevel=error) >/tmp/extentlog-librdkafka.log 2>&1; then
    log "the librdkafka log driver did not install (see /tmp/extentlog-librdkafka.log); logDriver 'auto' uses kafkajs"
    return 1
  fi
  echo "$want" >"$dir/node_modules/.extentlog-stamp"
}

case "$mode" in
  test) install_debian_packages ;;
  run) install_debian_packages librdkafka-build ;;
esac
install_npm_dependencies
[ "$librdkafka" = yes ] && install_librdkafka_driver
bash scripts/build-native.sh
log "compiling TypeScript"
npx tsc -p tsconfig.json
