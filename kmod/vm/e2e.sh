# SPDX-License-Identifier: GPL-2.0
# VM scenario: the producer side end to end. Node.js runs in the guest, chrooted into the
# host's root (9p tag "hostroot", read-only), with the kjournal addon built on the host;
# it publishes the journal of /dev/vda to the host's broker over qemu user networking.
# /results/scenario.env:
#   CHECKOUT       the checkout's path on the host (and so in the chroot)
#   RING_RECORDS   ring size of the target (small, so that a storm overflows it)
#   GUEST_PLAN     the plan file, as the chroot sees /results (/tmp/results/...)
# Disks: vda protected, vdb COW store.
set -u
. /results/scenario.env
export DM_DISABLE_UDEV=1
step() { echo "EXL-VM: $* t=$(cut -d' ' -f1 /proc/uptime)"; }
fail() { echo "EXL-VM: FAIL $*"; exit 1; }

insmod /mods/extentlog.ko || fail "insmod extentlog"
SECTORS=$(cat /sys/block/vda/size)
dmsetup create exl0 --table "0 $SECTORS extentlog /dev/vda j0 2 ring_records $RING_RECORDS" ||
	fail "dmsetup create exl0"
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose hostroot /host ||
	fail "mount hostroot"
mount -t devtmpfs devtmpfs /host/dev
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t tmpfs tmpfs /host/tmp
mkdir -p /host/tmp/results
mount --bind /results /host/tmp/results
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
step "node starts"
KAFKAJS_NO_PARTITIONER_WARNING=1 chroot /host /usr/bin/node --enable-source-maps \
	"$CHECKOUT/dist/test/support/kernel-journal-guest.js" "$GUEST_PLAN"
rc=$?
step "node exit=$rc"
dmsetup status exl0
umount /host/tmp/results
dmsetup remove exl0 || fail "dmsetup remove exl0"
rmmod extentlog || fail "rmmod extentlog"
exit $rc
