#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Builds what the module's VM tests boot: the module and the guest tools against Debian's
# newest installed kernel headers, and a busybox initramfs holding them, dmsetup, the
# kernel modules the guest needs (virtio disks and network, device-mapper, 9p) and
# kmod/vm/init. The host's kernel is never touched.
#
# Usage: build-image.sh <out dir>
#   <out dir>/initramfs.cpio.gz, vmlinuz (symlink), extentlog.ko, exlctl, exl-writer, kver
# Needs: linux-headers-amd64 linux-image-amd64 busybox-static dmsetup kmod cpio build-essential
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KMOD=$(dirname "$HERE")
OUT=${1:?usage: build-image.sh <out dir>}

headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1 || true)
[ -n "$headers" ] || { echo "no /usr/src/linux-headers-*-amd64: install linux-headers-amd64" >&2; exit 1; }
KVER=${headers#/usr/src/linux-headers-}
VMLINUZ=/boot/vmlinuz-$KVER
[ -r "$VMLINUZ" ] || { echo "missing $VMLINUZ: install linux-image-amd64 ($KVER)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "missing /bin/busybox: install busybox-static" >&2; exit 1; }
[ -x /usr/sbin/dmsetup ] || [ -x /sbin/dmsetup ] || { echo "missing dmsetup: install dmsetup" >&2; exit 1; }
DMSETUP=$(command -v dmsetup || echo /sbin/dmsetup)

rm -rf "$OUT"
mkdir -p "$OUT/src"
cp -r "$KMOD"/Kbuild "$KMOD"/Makefile "$KMOD"/configure "$KMOD"/*.c "$KMOD"/*.h \
	"$KMOD"/uapi "$KMOD"/probes "$KMOD"/tools "$OUT/src/"
rm -f "$OUT/src/exl-config.h" "$OUT/src/tools/exlctl" "$OUT/src/tools/exl-writer"
make -s -C "$OUT/src" KDIR="$headers" module tools >"$OUT/build.log" 2>&1 ||
	{ cat "$OUT/build.log" >&2; exit 1; }
vermagic=$(modinfo -F vermagic "$OUT/src/extentlog.ko")
case "$vermagic" in "$KVER "*) ;; *) echo "vermagic mismatch: $vermagic" >&2; exit 1 ;; esac
cp "$OUT/src/extentlog.ko" "$OUT/src/tools/exlctl" "$OUT/src/tools/exl-writer" "$OUT/"
echo "$KVER" >"$OUT/kver"
ln -s "$VMLINUZ" "$OUT/vmlinuz"

IR=$OUT/initramfs
mkdir -p "$IR"/{bin,sbin,proc,sys,dev,run,tmp,mods,results,host,lib64,usr/bin,usr/sbin}
cp /bin/busybox "$IR/bin/busybox"
cp "$DMSETUP" "$IR/sbin/dmsetup"
for lib in $(ldd "$DMSETUP" | awk '/=> \//{print $3} /^[ \t]*\/lib64\//{print $1}'); do
	mkdir -p "$IR$(dirname "$lib")"
	cp -L "$lib" "$IR$lib"
done
: >"$IR/mods/order"
for m in virtio_pci virtio_blk virtio_net dm_mod 9p 9pnet_virtio; do
	for ko in $(modprobe -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'); do
		b=$(basename "$ko")
		[ -e "$IR/mods/$b" ] && continue
		cp "$ko" "$IR/mods/$b"
		echo "$b" >>"$IR/mods/order"
	done
done
cp "$OUT/extentlog.ko" "$IR/mods/"
cp "$OUT/exlctl" "$OUT/exl-writer" "$IR/bin/"
cp "$HERE/init" "$IR/init"
mkdir -p "$IR/lib"
cp "$HERE/guest-lib.sh" "$IR/lib/exl-vm.sh"
chmod +x "$IR/init"
(cd "$IR" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$OUT/initramfs.cpio.gz"
rm -rf "$IR"
echo "built $KVER into $OUT"
