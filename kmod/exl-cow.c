// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write snapshots (store format in uapi/extentlog.h). One snapshot per target at
 * a time. While it is active, a data bio that touches a chunk with its bit clear in
 * snap->copied is held (exl-target.c) until the worker copied the chunk's old content
 * into the next free slot of the store; the bit is set only after the slot's data and
 * index entry were written, so .map may pass any bio whose chunks are all set.
 *
 * Snapshot reads take cow_mutex per piece: a copied chunk is read from its slot, any
 * other chunk from the device, and no copy can happen in between, so a chunk never
 * changes under a read. The snapshot lives in memory only; see kmod/README.md for what
 * survives a reboot.
 *
 * Lock order: ctl_mutex, then read_mutex or cow_mutex, then exl_target.lock.
 */
#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "exl.h"

/* Largest piece of a snapshot read or device read done in one go. */
#define EXL_PIECE_BYTES (1U << 20)

bool __exl_snap_covers(struct exl_snapshot *snap, sector_t sector, u32 nr)
{
	u64 first, last;

	if (snap->error || !nr)
		return true;
	first = sector >> snap->chunk_shift;
	last = min_t(u64, (sector + nr - 1) >> snap->chunk_shift,
		     snap->nr_chunks - 1);
	return find_next_zero_bit(snap->copied, last + 1, first) > last;
}

/* Reads @nr_sectors at @sector of the protected device into a vmalloc'ed @buf. */
int exl_read_device(struct exl_target *xt, sector_t sector, void *buf,
		    u32 nr_sectors)
{
	size_t left = (size_t)nr_sectors << SECTOR_SHIFT;
	char *p = buf;
	int ret = 0;

	while (left && !ret) {
		unsigned int vecs = min_t(size_t, BIO_MAX_VECS,
					  DIV_ROUND_UP(offset_in_page(p) + left,
						       PAGE_SIZE));
		size_t done = 0;
		struct bio *bio;

#ifdef EXL_HAVE_BIO_ALLOC_BDEV
		bio = bio_alloc(xt->dev->bdev, vecs, REQ_OP_READ, GFP_NOIO);
#else
		bio = bio_alloc(GFP_NOIO, vecs);
		bio_set_dev(bio, xt->dev->bdev);
		bio->bi_opf = REQ_OP_READ;
#endif
		bio->bi_iter.bi_sector = sector;
		while (done < left) {
			unsigned int offset = offset_in_page(p + done);
			unsigned int len =
				min_t(size_t, PAGE_SIZE - offset, left - done);

			if (bio_add_page(bio, vmalloc_to_page(p + done), len,
					 offset) != len)
				break;
			done += len;
		}
		ret = done ? submit_bio_wait(bio) : -EIO;
		bio_put(bio);
		invalidate_kernel_vmap_range(p, done);
		p += done;
		left -= done;
		sector += done >> SECTOR_SHIFT;
	}
	return ret;
}

static int exl_store_io(struct exl_snapshot *snap, void *buf, size_t len,
			loff_t pos, bool write)
{
	ssize_t n = write ? kernel_write(snap->store, buf, len, &pos) :
			    kernel_read(snap->store, buf, len, &pos);

	if (n == len)
		return 0;
	return n < 0 ? n : -EIO;
}

static int exl_store_size(struct file *store, loff_t *size)
{
	struct inode *inode = file_inode(store);

	if (S_ISREG(inode->i_mode))
		*size = i_size_read(inode);
	else if (S_ISBLK(inode->i_mode))
		*size = i_size_read(store->f_mapping->host);
	else
		return -EINVAL;
	return 0;
}

/* A store on the protected device (or on this dm device) would copy into itself. */
static bool exl_store_is_protected(struct exl_target *xt, struct file *store)
{
	struct inode *inode = file_inode(store);
	dev_t mine = disk_devt(dm_disk(dm_table_get_md(xt->ti->table)));
	dev_t under = xt->dev->bdev->bd_dev;
	dev_t dev = 0;

	if (S_ISBLK(inode->i_mode))
		dev = inode->i_rdev;
	else if (inode->i_sb->s_bdev)
		dev = inode->i_sb->s_bdev->bd_dev;
	return dev && (dev == mine || dev == under);
}

/* The store's footprint with @cap slots. */
static u64 exl_cow_bytes(struct exl_snapshot *snap, u64 cap)
{
	return round_up(EXL_COW_HEADER_BYTES + cap * 8, 4096) +
	       cap * snap->chunk_bytes;
}

static int exl_cow_layout(struct exl_snapshot *snap, loff_t size)
{
	u64 cap;

	if (size < EXL_COW_HEADER_BYTES + PAGE_SIZE + snap->chunk_bytes)
		return -ENOSPC;
	cap = div64_u64(size - EXL_COW_HEADER_BYTES, snap->chunk_bytes + 8);
	while (cap && exl_cow_bytes(snap, cap) > size)
		cap--;
	if (!cap)
		return -ENOSPC;
	snap->capacity = cap;
	snap->index_offset = EXL_COW_HEADER_BYTES;
	snap->data_offset = round_up(EXL_COW_HEADER_BYTES + cap * 8, 4096);
	return 0;
}

static int exl_cow_write_header(struct exl_target *xt,
				struct exl_snapshot *snap, u32 state)
{
	struct exl_cow_header *h;
	int ret;

	h = kzalloc(EXL_COW_HEADER_BYTES, GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	memcpy(h->magic, EXL_COW_MAGIC, sizeof(h->magic));
	h->version = cpu_to_le32(EXL_COW_VERSION);
	h->header_bytes = cpu_to_le32(EXL_COW_HEADER_BYTES);
	h->chunk_bytes = cpu_to_le32(snap->chunk_bytes);
	h->state = cpu_to_le32(state);
	h->snap_id = cpu_to_le64(snap->id);
	h->journal_id = cpu_to_le64(xt->journal_id);
	h->device_sectors = cpu_to_le64(xt->device_sectors);
	h->marker_pos = cpu_to_le64(snap->marker_pos);
	h->capacity_chunks = cpu_to_le64(snap->capacity);
	h->index_offset = cpu_to_le64(snap->index_offset);
	h->data_offset = cpu_to_le64(snap->data_offset);
	h->used_chunks = cpu_to_le64(READ_ONCE(snap->used));
	h->created_realtime_ns = cpu_to_le64(snap->created_ns);
	h->error = snap->error;
	ret = exl_store_io(snap, h, EXL_COW_HEADER_BYTES, 0, true);
	kfree(h);
	return ret;
}

static void exl_snap_free(struct exl_snapshot *snap)
{
	xa_destroy(&snap->slots);
	vfree(snap->buffer);
	kvfree(snap->copied);
	fput(snap->store);
	kfree(snap);
}

/* Allocates a snapshot on @store and writes an empty index and the header. */
static struct exl_snapshot *exl_snap_alloc(struct exl_target *xt,
					   struct file *store, u32 chunk_bytes)
{
	struct exl_snapshot *snap;
	loff_t size, pos;
	int ret;

	snap = kzalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return ERR_PTR(-ENOMEM);
	snap->store = store;
	xa_init(&snap->slots);
	snap->chunk_bytes = chunk_bytes;
	snap->chunk_shift = ilog2(chunk_bytes >> SECTOR_SHIFT);
	snap->nr_chunks = DIV_ROUND_UP_ULL(xt->device_sectors,
					   chunk_bytes >> SECTOR_SHIFT);
	snap->created_ns = ktime_get_real_ns();
	snap->copied = kvcalloc(BITS_TO_LONGS(snap->nr_chunks),
				sizeof(unsigned long), GFP_KERNEL);
	snap->buffer = vzalloc(chunk_bytes);
	if (!snap->copied || !snap->buffer) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = exl_store_size(store, &size);
	if (!ret)
		ret = exl_cow_layout(snap, size);
	for (pos = snap->index_offset; !ret && pos < snap->data_offset;
	     pos += chunk_bytes)
		ret = exl_store_io(snap, snap->buffer,
				   min_t(loff_t, chunk_bytes,
					 snap->data_offset - pos),
				   pos, true);
	if (!ret)
		ret = exl_cow_write_header(xt, snap, EXL_COW_ACTIVE);
	if (!ret)
		return snap;
fail:
	exl_snap_free(snap);
	return ERR_PTR(ret);
}

static bool exl_drained(struct exl_target *xt)
{
	return !READ_ONCE(xt->inflight);
}

static int exl_snap_check(struct exl_target *xt, struct file *store,
			  u32 chunk_bytes, u64 flags)
{
	if (xt->dead)
		return -ENODEV;
	if (xt->snap)
		return -EBUSY;
	if (chunk_bytes < EXL_CHUNK_MIN_BYTES ||
	    chunk_bytes > EXL_CHUNK_MAX_BYTES || !is_power_of_2(chunk_bytes))
		return -EINVAL;
	if ((store->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		return -EBADF;
	if (exl_store_is_protected(xt, store))
		return -EINVAL;
	if (flags & ~EXL_SNAP_RELEASE_BELOW)
		return -EINVAL;
	return 0;
}

/* Takes ownership of @store. */
int exl_snap_start(struct exl_target *xt, struct file *owner,
		   struct file *store, struct exl_snap_start *args)
{
	struct exl_journal *j = &xt->journal;
	struct exl_snapshot *snap;
	int ret;

	mutex_lock(&xt->ctl_mutex);
	ret = exl_snap_check(xt, store, args->chunk_bytes, args->flags);
	if (ret) {
		fput(store);
		goto unlock;
	}
	snap = exl_snap_alloc(xt, store, args->chunk_bytes);
	if (IS_ERR(snap)) {
		ret = PTR_ERR(snap);
		goto unlock;
	}

	spin_lock_irq(&xt->lock);
	xt->blocking = true;
	spin_unlock_irq(&xt->lock);
	ret = wait_event_killable(xt->drained, exl_drained(xt));

	/* Releasing records must not race a read(2) copying them out. */
	if (args->flags & EXL_SNAP_RELEASE_BELOW)
		mutex_lock(&xt->read_mutex);
	spin_lock_irq(&xt->lock);
	if (!ret) {
		snap->id = ++xt->last_snap_id;
		snap->marker_pos = j->head;
		snap->owner = owner;
		args->lost_total = j->lost_total;
		args->last_loss_head = j->last_loss_head;
		if (args->flags & EXL_SNAP_RELEASE_BELOW) {
			if (j->read < snap->marker_pos)
				j->read = snap->marker_pos;
			__exl_journal_ack(j, snap->marker_pos);
		}
		xt->snap = snap;
		xt->snap_gen++;
		__exl_journal_marker(j, EXL_REC_SNAP_START, snap->id, 0);
	}
	xt->blocking = false;
	spin_unlock_irq(&xt->lock);
	if (args->flags & EXL_SNAP_RELEASE_BELOW)
		mutex_unlock(&xt->read_mutex);
	exl_submit_deferred(xt);
	if (ret) {
		exl_snap_free(snap);
		goto unlock;
	}
	args->snap_id = snap->id;
	args->marker_pos = snap->marker_pos;
	args->capacity_chunks = snap->capacity;
	/* Informational; a failure here only leaves the header without the id. */
	exl_cow_write_header(xt, snap, EXL_COW_ACTIVE);
unlock:
	mutex_unlock(&xt->ctl_mutex);
	return ret;
}

/* Ends the active snapshot, if any. The caller holds ctl_mutex. */
void exl_snap_end(struct exl_target *xt)
{
	struct exl_snapshot *snap;

	spin_lock_irq(&xt->lock);
	snap = xt->snap;
	if (snap) {
		xt->snap = NULL;
		xt->snap_gen++;
		__exl_journal_marker(&xt->journal, EXL_REC_SNAP_STOP, snap->id,
				     snap->error);
	}
	spin_unlock_irq(&xt->lock);
	if (!snap)
		return;
	/* Wait out a copy or read in progress; held writes pass from now on. */
	mutex_lock(&xt->cow_mutex);
	mutex_unlock(&xt->cow_mutex);
	exl_submit_deferred(xt);
	exl_cow_write_header(xt, snap,
			     snap->error ? EXL_COW_INVALID : EXL_COW_ENDED);
	vfs_fsync(snap->store, 0);
	exl_snap_free(snap);
}

int exl_snap_stop(struct exl_target *xt, u64 snap_id)
{
	int ret = 0;

	mutex_lock(&xt->ctl_mutex);
	if (!xt->snap || xt->snap->id != snap_id)
		ret = -ENOENT;
	else
		exl_snap_end(xt);
	mutex_unlock(&xt->ctl_mutex);
	return ret;
}

void exl_snap_stop_owned(struct exl_target *xt, struct file *owner)
{
	mutex_lock(&xt->ctl_mutex);
	if (xt->snap && xt->snap->owner == owner)
		exl_snap_end(xt);
	mutex_unlock(&xt->ctl_mutex);
}

static void exl_snap_invalidate(struct exl_target *xt,
				struct exl_snapshot *snap, int error)
{
	spin_lock_irq(&xt->lock);
	if (!snap->error) {
		snap->error = error;
		__exl_journal_marker(&xt->journal, EXL_REC_SNAP_INVALID,
				     snap->id, error);
	}
	spin_unlock_irq(&xt->lock);
	DMWARN_LIMIT(
		"%s: snapshot %llu is invalid (%d): COW store full or failing",
		xt->name, snap->id, error);
}

static int exl_snap_copy_chunk(struct exl_target *xt, struct exl_snapshot *snap,
			       u64 chunk)
{
	sector_t start = chunk << snap->chunk_shift;
	u32 nr = min_t(sector_t, 1U << snap->chunk_shift,
		       xt->device_sectors - start);
	__le64 entry = cpu_to_le64(chunk + 1);
	u64 slot = snap->used;
	int ret;

	if (slot >= snap->capacity)
		return -ENOSPC;
	ret = exl_read_device(xt, start, snap->buffer, nr);
	if (ret)
		return ret;
	if (unlikely(exl_fault_corrupt_cow) &&
	    ++xt->cow_copies == exl_fault_corrupt_cow)
		((u8 *)snap->buffer)[0] ^= 0xff;
	ret = exl_store_io(snap, snap->buffer, (size_t)nr << SECTOR_SHIFT,
			   snap->data_offset + slot * snap->chunk_bytes, true);
	if (!ret)
		ret = exl_store_io(snap, &entry, sizeof(entry),
				   snap->index_offset + slot * sizeof(entry),
				   true);
	if (!ret)
		ret = xa_err(xa_store(&snap->slots, chunk, xa_mk_value(slot),
				      GFP_NOIO));
	if (ret)
		return ret;
	WRITE_ONCE(snap->used, slot + 1);
	smp_mb__before_atomic();
	set_bit(chunk, snap->copied);
	return 0;
}

/* Copies every chunk of [sector, sector + nr) not copied yet. Caller holds cow_mutex. */
void exl_snap_copy_range(struct exl_target *xt, struct exl_snapshot *snap,
			 sector_t sector, u32 nr)
{
	u64 chunk = sector >> snap->chunk_shift;
	u64 last = min_t(u64, (sector + nr - 1) >> snap->chunk_shift,
			 snap->nr_chunks - 1);
	int ret;

	for (; chunk <= last && !snap->error; chunk++) {
		if (test_bit(chunk, snap->copied))
			continue;
		ret = exl_snap_copy_chunk(xt, snap, chunk);
		if (ret)
			exl_snap_invalidate(xt, snap, ret);
	}
}

/* Reads [sector, sector + nr) of the snapshot image. Caller holds cow_mutex. */
static int exl_snap_read_piece(struct exl_target *xt, struct exl_snapshot *snap,
			       sector_t sector, char *buf, u32 nr)
{
	u32 shift = snap->chunk_shift;
	int ret;

	while (nr) {
		u64 chunk = sector >> shift;
		u32 run = min_t(sector_t, nr, ((chunk + 1) << shift) - sector);

		if (test_bit(chunk, snap->copied)) {
			u64 slot = xa_to_value(xa_load(&snap->slots, chunk));
			loff_t pos =
				snap->data_offset + slot * snap->chunk_bytes +
				((sector - (chunk << shift)) << SECTOR_SHIFT);

			ret = exl_store_io(snap, buf,
					   (size_t)run << SECTOR_SHIFT, pos,
					   false);
		} else {
			while (run < nr &&
			       !test_bit((sector + run) >> shift, snap->copied))
				run = min_t(u32, nr, run + (1U << shift));
			ret = exl_read_device(xt, sector, buf, run);
		}
		if (ret)
			return ret;
		sector += run;
		buf += (size_t)run << SECTOR_SHIFT;
		nr -= run;
	}
	return 0;
}

ssize_t exl_snap_read(struct exl_target *xt, struct exl_snap_read *args)
{
	u64 device_bytes = (u64)xt->device_sectors << SECTOR_SHIFT;
	char __user *ubuf = u64_to_user_ptr(args->buf);
	struct exl_snapshot *snap;
	u64 done = 0;
	void *kbuf;
	int ret = 0;

	if ((args->offset_bytes | args->length_bytes) & (SECTOR_SIZE - 1) ||
	    !args->length_bytes ||
	    args->length_bytes > EXL_SNAP_READ_MAX_BYTES ||
	    args->offset_bytes > device_bytes ||
	    args->length_bytes > device_bytes - args->offset_bytes)
		return -EINVAL;
	kbuf = vmalloc(min_t(u64, args->length_bytes, EXL_PIECE_BYTES));
	if (!kbuf)
		return -ENOMEM;
	if (mutex_lock_killable(&xt->ctl_mutex)) {
		vfree(kbuf);
		return -EINTR;
	}
	snap = xt->snap;
	if (xt->dead)
		ret = -ENODEV;
	else if (!snap || snap->id != args->snap_id)
		ret = -ENOENT;
	while (!ret && done < args->length_bytes) {
		u32 piece =
			min_t(u64, args->length_bytes - done, EXL_PIECE_BYTES);

		mutex_lock(&xt->cow_mutex);
		if (READ_ONCE(snap->error))
			ret = -ESTALE;
		else
			ret = exl_snap_read_piece(xt, snap,
						  (args->offset_bytes + done) >>
							  SECTOR_SHIFT,
						  kbuf, piece >> SECTOR_SHIFT);
		mutex_unlock(&xt->cow_mutex);
		if (!ret && copy_to_user(ubuf + done, kbuf, piece))
			ret = -EFAULT;
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
		done += piece;
	}
	mutex_unlock(&xt->ctl_mutex);
	vfree(kbuf);
	return ret ? ret : args->length_bytes;
}
