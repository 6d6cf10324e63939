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
. /lib/exl-vm.sh

exl_protect_vda "$RING_RECORDS"
exl_mount_host || fail "mount hostroot"
exl_network
step "node starts"
exl_run_guest "$GUEST_PLAN"
rc=$?
step "node exit=$rc"
dmsetup status exl0
umount /host/tmp/results
dmsetup remove exl0 || fail "dmsetup remove exl0"
rmmod extentlog || fail "rmmod extentlog"
exit $rc
