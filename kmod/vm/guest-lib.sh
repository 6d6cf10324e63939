# SPDX-License-Identifier: GPL-2.0
# Shell functions for the VM scenarios, installed in the initramfs as /lib/exl-vm.sh.

# No udev in the initramfs: libdevmapper creates the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1

# A line on the scenario log; FAIL ends the scenario.
step() { echo "EXL-VM: $* t=$(cut -d' ' -f1 /proc/uptime)"; }
fail() {
	echo "EXL-VM: FAIL $*"
	exit 1
}

# Loads the module (parameters: $EXL_PARAMS) and creates /dev/mapper/exl0 over /dev/vda
# with the journal /dev/extentlog/j0; $1, if given, is its ring_records.
exl_protect_vda() {
	insmod /mods/extentlog.ko ${EXL_PARAMS:-} || fail "insmod extentlog"
	SECTORS=$(cat /sys/block/vda/size)
	options=${1:+2 ring_records $1}
	dmsetup create exl0 --table "0 $SECTORS extentlog /dev/vda j0 $options" ||
		fail "dmsetup create exl0"
	[ -c /dev/extentlog/j0 ] || fail "no /dev/extentlog/j0"
	[ -b /dev/mapper/exl0 ] || fail "no /dev/mapper/exl0"
}

# Mounts the host's root (9p tag "hostroot", read-only) on /host with what a process
# chrooted into it needs, and /results as /tmp/results inside it.
exl_mount_host() {
	mkdir -p /host
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose hostroot /host ||
		return 1
	mount -t devtmpfs devtmpfs /host/dev
	mount -t proc proc /host/proc
	mount -t sysfs sysfs /host/sys
	mount -t tmpfs tmpfs /host/tmp
	mkdir -p /host/tmp/results
	mount --bind /results /host/tmp/results
}

# qemu user networking: the host's 127.0.0.1 is 10.0.2.2.
exl_network() {
	ip link set lo up
	ip link set eth0 up
	ip addr add 10.0.2.15/24 dev eth0
	ip route add default via 10.0.2.2
}

# Runs the guest program of test/support/kernel-journal-guest.ts on plan $1.
exl_run_guest() {
	KAFKAJS_NO_PARTITIONER_WARNING=1 chroot /host /usr/bin/node --enable-source-maps \
		"$CHECKOUT/dist/test/support/kernel-journal-guest.js" "$1"
}
