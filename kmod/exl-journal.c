// SPDX-License-Identifier: GPL-2.0
/*
 * The journal ring (layout in uapi/extentlog.h). Records are stored at completion, under
 * exl_target.lock, so ring order is completion order and completed_ns never decreases
 * along it. A record is never overwritten before the reader acknowledged it: when the ring
 * is full the new record is dropped and counted instead, and the last free slot is kept
 * for the OVERFLOW record that reports the drops.
 */
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/vmalloc.h>

#include "exl.h"

int exl_journal_init(struct exl_journal *j, u64 capacity)
{
	memset(j, 0, sizeof(*j));
	if (capacity < 64 || !is_power_of_2(capacity))
		return -EINVAL;
	j->records = vzalloc(array_size(capacity, sizeof(struct exl_record)));
	if (!j->records)
		return -ENOMEM;
	j->capacity = capacity;
	init_waitqueue_head(&j->readers);
	return 0;
}

void exl_journal_free(struct exl_journal *j)
{
	vfree(j->records);
	j->records = NULL;
}

static void __exl_store(struct exl_journal *j, const struct exl_record *rec)
{
	struct exl_record *slot = &j->records[j->head & (j->capacity - 1)];

	*slot = *rec;
	slot->pos = j->head++;
	if (wq_has_sleeper(&j->readers))
		wake_up_interruptible(&j->readers);
}

/* Reports unreported drops with an OVERFLOW record if any slot is free. */
void __exl_journal_flush_lost(struct exl_journal *j)
{
	struct exl_record rec = {
		.type = EXL_REC_OVERFLOW,
	};

	if (!j->lost || j->head - j->tail >= j->capacity)
		return;
	rec.arg = j->lost;
	rec.issued_ns = j->lost_since_ns;
	rec.completed_ns = ktime_get_ns();
	__exl_store(j, &rec);
	j->lost = 0;
}

/*
 * Stores @rec. When the ring is full, a @counted record is dropped and counted (the next
 * store that has room for both reports the loss first); an informational one is skipped.
 */
void __exl_journal_push(struct exl_journal *j, struct exl_record *rec,
			bool counted)
{
	if (j->lost && j->head - j->tail + 2 <= j->capacity)
		__exl_journal_flush_lost(j);
	if (!j->lost && j->head - j->tail + 1 < j->capacity) {
		__exl_store(j, rec);
		return;
	}
	if (!counted)
		return;
	if (!j->lost)
		j->lost_since_ns = rec->completed_ns;
	j->lost++;
	j->lost_total++;
	j->last_loss_head = j->head;
}

void __exl_journal_marker(struct exl_journal *j, u16 type, u64 arg, int status)
{
	struct exl_record rec = {
		.type = type,
		.arg = arg,
		.status = status,
	};

	rec.issued_ns = ktime_get_ns();
	rec.completed_ns = rec.issued_ns;
	__exl_journal_push(j, &rec, false);
}

/* Releases the records below @pos (tail <= @pos <= read). */
void __exl_journal_ack(struct exl_journal *j, u64 pos)
{
	u64 at;

	for (at = j->tail; at < pos; at++) {
		u16 type = j->records[at & (j->capacity - 1)].type;

		if (type == EXL_REC_WRITE || type == EXL_REC_DISCARD ||
		    type == EXL_REC_WRITE_ZEROES)
			j->acked_data_end = at + 1;
	}
	j->tail = pos;
	__exl_journal_flush_lost(j);
}
