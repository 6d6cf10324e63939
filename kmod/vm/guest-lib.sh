# SPDX-License-Identifier: GPL-2.0
# Shell functions for the VM scenarios, installed in the initramfs as /lib/exl-vm.sh.

# A line on the scenario log; FAIL ends the scenario.
step() { echo "EXL-VM: $* t=$(cut -d' ' -f1 /proc/uptime)"; }
fail() {
	echo "EXL-VM: FAIL $*"
	exit 1
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
