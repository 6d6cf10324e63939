# SPDX-License-Identifier: GPL-2.0
# VM scenario: journal completeness and COW snapshots under a running workload, then a
# journal overflow. Runs in the guest (busybox sh) with /results/scenario.env:
#   EXL_PARAMS    module parameters (fault injection for the negative run)
#   WRITER_ARGS   exl-writer arguments for the main workload on /dev/vda
#   SNAP_AFTER    journal records to wait for before the snapshot starts
#   CHUNK_BYTES   snapshot chunk size
#   STORM_ARGS    exl-writer arguments for the overflow storm on /dev/vdc
# Disks: vda protected, vdb COW store, vdc overflow storm.
set -u
. /results/scenario.env
. /lib/exl-vm.sh
field() { sed -n "s/.*\\b$1=\\([0-9-]*\\).*/\\1/p"; }

exl_protect_vda
step "exl0 created over $SECTORS sectors"

exlctl dump /dev/extentlog/j0 /results/journal.bin >/results/dump.out 2>&1 &
DUMP=$!
exl-writer /dev/mapper/exl0 /results/writer.bin $WRITER_ARGS >/results/writer.out 2>&1 &
WRITER=$!
i=0
while :; do
	head=$(exlctl info /dev/extentlog/j0 | field head_pos)
	[ "${head:-0}" -ge "$SNAP_AFTER" ] && break
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "the workload did not reach $SNAP_AFTER records"
	sleep 0.05
done
step "snapshot at head_pos=$head"
exlctl snap-image /dev/extentlog/j0 /dev/vdb "$CHUNK_BYTES" /results/snap.img 30 \
	>/results/snap.out 2>&1 || fail "snap-image: $(cat /results/snap.out)"
cat /results/snap.out
wait $WRITER
step "writer exit=$? $(cat /results/writer.out)"
sync
kill -TERM $DUMP
wait $DUMP
step "dump exit=$? $(cat /results/dump.out)"
exlctl info /dev/extentlog/j0 >/results/info.out
dmsetup status exl0
dmsetup remove exl0 || fail "dmsetup remove exl0"

STORM_SECTORS=$(cat /sys/block/vdc/size)
dmsetup create exl1 --table "0 $STORM_SECTORS extentlog /dev/vdc j1 2 ring_records 64" ||
	fail "dmsetup create exl1"
exl-writer /dev/mapper/exl1 /results/storm.bin $STORM_ARGS >/results/storm.out 2>&1 ||
	fail "storm writer: $(cat /results/storm.out)"
exlctl info /dev/extentlog/j1 >/results/overflow-info.out
exlctl drain /dev/extentlog/j1 /results/overflow.bin >/results/overflow-drain.out 2>&1 ||
	fail "drain: $(cat /results/overflow-drain.out)"
exlctl info /dev/extentlog/j1 >/results/overflow-info-after.out
step "overflow $(cat /results/overflow-info.out)"
dmsetup remove exl1 || fail "dmsetup remove exl1"
rmmod extentlog || fail "rmmod extentlog"
step "done"
