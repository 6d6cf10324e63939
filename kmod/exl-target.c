// SPDX-License-Identifier: GPL-2.0
/*
 * The dm target. It maps its sectors 1:1 onto sector 0.. of one device and passes every
 * bio through. Writes, discards, write-zeroes and empty flushes are journaled: sector,
 * length, op and flags are taken in .map (by .end_io the bio's iterator has advanced),
 * the completion time and status in .end_io, where the record is stored.
 *
 * Data bios (everything that changes content) are held on a deferred list instead of
 * being passed on while a snapshot starts (until the ones in flight drained) and while
 * their chunks wait to be copied to an active snapshot's COW store; a worker copies the
 * chunks and submits them. Nothing sleeps in .map: a submitter may hold bios of its own
 * on current->bio_list that the drain waits for.
 */
#include <linux/ctype.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "exl.h"

#define EXL_RING_DEFAULT_RECORDS 65536ULL
#define EXL_RING_MIN_RECORDS 64U
#define EXL_RING_MAX_RECORDS (1U << 24)

static bool exl_name_valid(const char *name)
{
	size_t len = strlen(name);
	size_t i;

	if (!len || len >= EXL_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (!isalnum(name[i]) && !strchr("._-", name[i]))
			return false;
	}
	return true;
}

static int exl_parse_options(struct dm_arg_set *as, u64 *ring_records,
			     char **error)
{
	static const struct dm_arg group = { 0, 2,
					     "Invalid number of options" };
	static const struct dm_arg ring = { EXL_RING_MIN_RECORDS,
					    EXL_RING_MAX_RECORDS,
					    "Invalid ring_records" };
	unsigned int count, value;
	const char *option;
	int ret;

	if (!as->argc)
		return 0;
	ret = dm_read_arg_group(&group, as, &count, error);
	if (ret)
		return ret;
	while (count) {
		option = dm_shift_arg(as);
		count--;
		if (!strcasecmp(option, "ring_records") && count) {
			ret = dm_read_arg(&ring, as, &value, error);
			if (ret)
				return ret;
			if (!is_power_of_2(value)) {
				*error = "ring_records must be a power of two";
				return -EINVAL;
			}
			*ring_records = value;
			count--;
			continue;
		}
		*error = "Unknown option";
		return -EINVAL;
	}
	return 0;
}

static void exl_deferred_work(struct work_struct *work);

/*
 * Construct an extentlog mapping:
 *   <dev_path> <name> [<#options> ring_records <power of two>]
 * <name> becomes /dev/extentlog/<name>.
 */
static int exl_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	u64 ring_records = EXL_RING_DEFAULT_RECORDS;
	struct exl_target *xt;
	struct dm_arg_set as;
	int ret;

	if (argc < 2) {
		ti->error =
			"Usage: <dev_path> <name> [<#options> ring_records <n>]";
		return -EINVAL;
	}
	if (!exl_name_valid(argv[1])) {
		ti->error = "Invalid name (1-31 of [A-Za-z0-9._-])";
		return -EINVAL;
	}
	as.argc = argc - 2;
	as.argv = argv + 2;
	ret = exl_parse_options(&as, &ring_records, &ti->error);
	if (ret)
		return ret;

	xt = kzalloc(sizeof(*xt), GFP_KERNEL);
	if (!xt) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	kref_init(&xt->ref);
	xt->ti = ti;
	strscpy(xt->name, argv[1], sizeof(xt->name));
	INIT_LIST_HEAD(&xt->list);
	spin_lock_init(&xt->lock);
	bio_list_init(&xt->deferred);
	init_waitqueue_head(&xt->drained);
	mutex_init(&xt->ctl_mutex);
	mutex_init(&xt->cow_mutex);
	mutex_init(&xt->read_mutex);
	INIT_WORK(&xt->deferred_work, exl_deferred_work);
	xt->journal_id = get_random_u64();
	xt->next_seq = 1;
	xt->device_sectors = ti->len;

	ret = exl_journal_init(&xt->journal, ring_records);
	if (ret) {
		ti->error = "Cannot allocate journal ring";
		goto bad_journal;
	}
	ret = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table),
			    &xt->dev);
	if (ret) {
		ti->error = "Device lookup failed";
		goto bad_dev;
	}
	if (ti->len > bdev_nr_sectors(xt->dev->bdev)) {
		ti->error = "Device is smaller than the target";
		ret = -EINVAL;
		goto bad_size;
	}
	xt->wq = alloc_workqueue("exl-%s", WQ_MEM_RECLAIM, 1, xt->name);
	if (!xt->wq) {
		ti->error = "Cannot allocate workqueue";
		ret = -ENOMEM;
		goto bad_size;
	}
	ret = exl_name_claim(xt);
	if (ret) {
		ti->error = "Name in use";
		goto bad_name;
	}
	ret = exl_chardev_add(xt);
	if (ret) {
		ti->error = "Cannot register character device";
		goto bad_chardev;
	}

	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct exl_io);
#ifdef EXL_HAVE_DM_SUBMIT_BIO_REMAP
	ti->accounts_remapped_io = true;
#endif
	ti->private = xt;
	return 0;

bad_chardev:
	exl_name_release(xt);
bad_name:
	destroy_workqueue(xt->wq);
bad_size:
	dm_put_device(ti, xt->dev);
bad_dev:
	exl_journal_free(&xt->journal);
bad_journal:
	kfree(xt);
	return ret;
}

static void exl_dtr(struct dm_target *ti)
{
	struct exl_target *xt = ti->private;

	mutex_lock(&xt->ctl_mutex);
	exl_snap_end(xt);
	spin_lock_irq(&xt->lock);
	xt->dead = true;
	spin_unlock_irq(&xt->lock);
	mutex_unlock(&xt->ctl_mutex);
	wake_up_all(&xt->journal.readers);

	exl_chardev_remove(xt);
	exl_name_release(xt);
	/* The table is suspended: nothing is in flight or deferred any more. */
	destroy_workqueue(xt->wq);
	dm_put_device(ti, xt->dev);
	exl_target_put(xt);
}

static u16 exl_bio_type(struct bio *bio)
{
	switch (bio_op(bio)) {
	case REQ_OP_WRITE:
		if (bio_sectors(bio))
			return EXL_REC_WRITE;
		return (bio->bi_opf & REQ_PREFLUSH) ? EXL_REC_FLUSH : 0;
	case REQ_OP_DISCARD:
		return EXL_REC_DISCARD;
	case REQ_OP_WRITE_ZEROES:
		return EXL_REC_WRITE_ZEROES;
	default:
		return 0;
	}
}

static void exl_submit(struct bio *bio)
{
#ifdef EXL_HAVE_DM_SUBMIT_BIO_REMAP
	dm_submit_bio_remap(bio, NULL);
#else
	submit_bio_noacct(bio);
#endif
}

static int exl_map(struct dm_target *ti, struct bio *bio)
{
	struct exl_target *xt = ti->private;
	struct exl_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long flags;
	bool hold;

	io->type = exl_bio_type(bio);
	io->admitted = false;
	bio_set_dev(bio, xt->dev->bdev);
	if (bio_sectors(bio))
		bio->bi_iter.bi_sector =
			dm_target_offset(ti, bio->bi_iter.bi_sector);
	if (!io->type)
		return DM_MAPIO_REMAPPED;

	io->issued_ns = ktime_get_ns();
	io->sector = bio->bi_iter.bi_sector;
	io->nr_sectors = bio_sectors(bio);
	io->flags = ((bio->bi_opf & REQ_FUA) ? EXL_RECF_FUA : 0) |
		    ((bio->bi_opf & REQ_PREFLUSH) ? EXL_RECF_PREFLUSH : 0);

	spin_lock_irqsave(&xt->lock, flags);
	io->seq = xt->next_seq++;
	if (io->type == EXL_REC_FLUSH) {
		spin_unlock_irqrestore(&xt->lock, flags);
		return DM_MAPIO_REMAPPED;
	}
	hold = xt->blocking ||
	       (xt->snap &&
		!__exl_snap_covers(xt->snap, io->sector, io->nr_sectors));
	if (hold) {
		bio_list_add(&xt->deferred, bio);
	} else {
		io->admitted = true;
		xt->inflight++;
	}
	spin_unlock_irqrestore(&xt->lock, flags);
	if (!hold)
		return DM_MAPIO_REMAPPED;
	queue_work(xt->wq, &xt->deferred_work);
	return DM_MAPIO_SUBMITTED;
}

/* Admits held writes once no snapshot is starting, copying their chunks first. */
static void exl_deferred_work(struct work_struct *work)
{
	struct exl_target *xt =
		container_of(work, struct exl_target, deferred_work);
	unsigned int noio = memalloc_noio_save();
	struct exl_snapshot *snap;
	struct exl_io *io;
	struct bio *bio;
	u64 gen;

	mutex_lock(&xt->cow_mutex);
	for (;;) {
		spin_lock_irq(&xt->lock);
		bio = xt->blocking ? NULL : bio_list_pop(&xt->deferred);
		if (!bio) {
			spin_unlock_irq(&xt->lock);
			break;
		}
		io = dm_per_bio_data(bio, sizeof(*io));
		snap = xt->snap;
		if (snap &&
		    !__exl_snap_covers(snap, io->sector, io->nr_sectors)) {
			gen = xt->snap_gen;
			spin_unlock_irq(&xt->lock);
			/* snap stays allocated: ending it waits for cow_mutex */
			exl_snap_copy_range(xt, snap, io->sector,
					    io->nr_sectors);
			spin_lock_irq(&xt->lock);
			if (xt->blocking || xt->snap_gen != gen) {
				bio_list_add_head(&xt->deferred, bio);
				spin_unlock_irq(&xt->lock);
				continue;
			}
		}
		io->admitted = true;
		xt->inflight++;
		spin_unlock_irq(&xt->lock);
		exl_submit(bio);
	}
	mutex_unlock(&xt->cow_mutex);
	memalloc_noio_restore(noio);
}

void exl_submit_deferred(struct exl_target *xt)
{
	queue_work(xt->wq, &xt->deferred_work);
}

static int exl_end_io(struct dm_target *ti, struct bio *bio,
		      blk_status_t *error)
{
	struct exl_target *xt = ti->private;
	struct exl_io *io = dm_per_bio_data(bio, sizeof(*io));
	struct exl_record rec = {};
	unsigned long flags;
	bool drop = false;

	if (!io->type)
		return DM_ENDIO_DONE;
	rec.seq = io->seq;
	rec.sector = io->sector;
	rec.nr_sectors = io->nr_sectors;
	rec.type = io->type;
	rec.flags = io->flags;
	rec.issued_ns = io->issued_ns;
	rec.status = blk_status_to_errno(*error);

	spin_lock_irqsave(&xt->lock, flags);
	rec.completed_ns = ktime_get_ns();
	if (unlikely(exl_fault_drop_write) && io->type == EXL_REC_WRITE)
		drop = ++xt->data_records == exl_fault_drop_write;
	if (!drop)
		__exl_journal_push(&xt->journal, &rec, true);
	if (io->admitted && !--xt->inflight && xt->blocking)
		wake_up(&xt->drained);
	spin_unlock_irqrestore(&xt->lock, flags);
	return DM_ENDIO_DONE;
}

static void exl_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct exl_target *xt = ti->private;
	struct exl_journal *j = &xt->journal;
	u64 head, tail, lost, inflight, snap_id = 0, copied = 0;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		spin_lock_irq(&xt->lock);
		head = j->head;
		tail = j->tail;
		lost = j->lost_total;
		inflight = xt->inflight;
		if (xt->snap) {
			snap_id = xt->snap->id;
			copied = xt->snap->used;
		}
		spin_unlock_irq(&xt->lock);
		DMEMIT("%s head=%llu tail=%llu lost=%llu inflight=%llu snap=%llu copied=%llu",
		       xt->name, head, tail, lost, inflight, snap_id, copied);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s", xt->dev->name, xt->name);
		if (j->capacity != EXL_RING_DEFAULT_RECORDS)
			DMEMIT(" 2 ring_records %llu", j->capacity);
		break;
#ifdef EXL_HAVE_STATUSTYPE_IMA
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
#endif
	}
}

static int exl_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct exl_target *xt = ti->private;

	return fn(ti, xt->dev, 0, ti->len, data);
}

static struct target_type exl_target_type = {
	.name = "extentlog",
	.version = { 1, 0, 0 },
	.module = THIS_MODULE,
	.ctr = exl_ctr,
	.dtr = exl_dtr,
	.map = exl_map,
	.end_io = exl_end_io,
	.status = exl_status,
	.iterate_devices = exl_iterate_devices,
};

int exl_target_register(void)
{
	return dm_register_target(&exl_target_type);
}

void exl_target_unregister(void)
{
	dm_unregister_target(&exl_target_type);
}
