#!/usr/bin/env bash
# Builds the kernel module, its guest tools and the VM test image into kmod/build/ (see
# kmod/vm/build-image.sh) when its sources or the installed kernel headers changed. Safe to
# run concurrently: one build at a time holds kmod/build.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
out=kmod/build
exec 9>kmod/build.lock
flock 9
headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1 || true)
digest=$( (echo "$headers"; cat kmod/Kbuild kmod/Makefile kmod/configure kmod/*.c kmod/*.h \
  kmod/uapi/*.h kmod/probes/*.c kmod/tools/*.c kmod/vm/init kmod/vm/guest-lib.sh \
  kmod/vm/build-image.sh) |
  sha256sum | cut -c1-16)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$digest" ]; then
  exit 0
fi
printf '[setup] building the kernel module and its VM image\n' >&2
bash kmod/vm/build-image.sh "$out.tmp" >/dev/null
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$digest" >"$out/.stamp"
