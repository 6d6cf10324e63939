# SPDX-License-Identifier: GPL-2.0
# VM scenario of the kmod benchmark: the same workloads on the raw disk and through the
# extentlog target (whose journal a reader keeps draining), alternating, ROUNDS times; then,
# when GUEST_PLAN is set, Node.js publishes the journal to the host's broker to measure the
# achieved RPO. /results/scenario.env: ROUNDS SEQ_ARGS RAND_ARGS [CHECKOUT GUEST_PLAN].
# Disks: vda protected, vdb COW store.
set -u
. /results/scenario.env
. /lib/exl-vm.sh

exl_protect_vda
exlctl dump /dev/extentlog/j0 /tmp/journal.bin >/dev/null 2>&1 &
DUMP=$!
round=1
while [ $round -le "$ROUNDS" ]; do
	for workload in seq rand; do
		case $workload in
		seq) args=$SEQ_ARGS ;;
		*) args=$RAND_ARGS ;;
		esac
		exl-writer /dev/vda "/results/$workload-raw-$round.bin" $args >/dev/null ||
			fail "$workload raw"
		exl-writer /dev/mapper/exl0 "/results/$workload-exl-$round.bin" $args >/dev/null ||
			fail "$workload extentlog"
	done
	round=$((round + 1))
done
kill -TERM $DUMP
wait $DUMP
dmsetup remove exl0 || fail "dmsetup remove exl0"
[ -n "${GUEST_PLAN:-}" ] || { rmmod extentlog; exit 0; }

dmsetup create exl0 --table "0 $SECTORS extentlog /dev/vda j0" || fail "dmsetup create exl0"
exl_mount_host || fail "mount hostroot"
exl_network
exl_run_guest "$GUEST_PLAN"
rc=$?
umount /host/tmp/results
dmsetup remove exl0
rmmod extentlog
exit $rc
