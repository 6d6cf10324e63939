#!/usr/bin/env bash
# Prepares a machine to run extentlog from this checkout: Debian packages, npm dependencies,
# native addons, the optional librdkafka log driver, the kernel module and its VM test image
# (for the tests) and the TypeScript build. Idempotent and quick when nothing changed.
#
#   scripts/setup.sh               everything the tests need (librdkafka driver included)
#   scripts/setup.sh --demo        only what `extentlog demo` needs: the fileio addon's build
#                                  packages when root (debian-packages-demo.txt; without them
#                                  the demo falls back to pure Node.js), npm, the build
#   scripts/setup.sh --librdkafka  what running extentlog needs, plus the librdkafka log driver
#                                  (log/librdkafka: builds librdkafka once, about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=test
for arg in "$@"; do
  case "$arg" in
    --demo) mode=demo ;;
    --librdkafka) mode=librdkafka ;;
    *)
      printf 'usage: scripts/setup.sh [--demo | --librdkafka]\n' >&2
      exit 2
      ;;
  esac
done

log() { printf '[setup] %s\n' "$*" >&2; }

# install_debian_packages LIST... — installs the packages of the lists that are missing.
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
  test) install_debian_packages scripts/debian-packages.txt scripts/debian-packages-demo.txt scripts/debian-packages-librdkafka.txt ;;
  librdkafka) install_debian_packages scripts/debian-packages-demo.txt scripts/debian-packages-librdkafka.txt ;;
  demo) install_debian_packages scripts/debian-packages-demo.txt || log "the fileio addon may not build: the demo will use its pure-Node.js options" ;;
esac
install_npm_dependencies
case "$mode" in
  test) install_librdkafka_driver ;;
  librdkafka) install_librdkafka_driver || true ;;
esac
bash scripts/build-native.sh
if [ "$mode" = test ]; then bash scripts/build-kmod.sh; fi
log "compiling TypeScript"
npx tsc -p tsconfig.json
if [ "$mode" = test ]; then bash scripts/build-vcsim.sh; fi
