/* SPDX-License-Identifier: GPL-2.0 */
/*
 * extentlog: a device-mapper target that passes I/O through to one device, journals every
 * write, discard, write-zeroes and flush with its issue and completion time, and takes
 * copy-on-write snapshots on request. Symbols share the prefix exl_; a leading "__" means
 * the caller holds exl_target.lock.
 */
#ifndef EXL_H
#define EXL_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "exl-config.h"
#include "uapi/extentlog.h"

#define DM_MSG_PREFIX "extentlog"
#define EXL_NAME_MAX 32

#ifndef BIO_MAX_VECS
#define BIO_MAX_VECS BIO_MAX_PAGES
#endif

#ifndef EXL_HAVE_BDEV_NR_SECTORS
static inline sector_t bdev_nr_sectors(struct block_device *bdev)
{
	return i_size_read(bdev->bd_inode) >> SECTOR_SHIFT;
}
#endif

/* The ring of records; every field is protected by exl_target.lock. */
struct exl_journal {
	struct exl_record *records; /* vmalloc'ed, capacity entries */
	u64 capacity;
	u64 head; /* next pos to store */
	u64 tail; /* oldest unacknowledged pos */
	u64 read; /* next pos read(2) returns */
	u64 lost; /* dropped, not yet reported by a record */
	u64 lost_total;
	u64 last_loss_head;
	u64 lost_since_ns; /* time of the first unreported drop */
	u64 acked_data_end; /* 1 + pos of the last data record acknowledged */
	wait_queue_head_t readers;
};

struct exl_snapshot {
	u64 id;
	u64 marker_pos;
	struct file *store;
	u32 chunk_bytes;
	u32 chunk_shift; /* log2(chunk_bytes >> SECTOR_SHIFT) */
	u64 nr_chunks; /* chunks of the protected device */
	u64 capacity; /* slots of the store */
	u64 used; /* slots in use */
	loff_t index_offset;
	loff_t data_offset;
	unsigned long *copied; /* one bit per chunk of the device */
	struct xarray slots; /* chunk -> slot */
	void *buffer; /* one chunk, vmalloc'ed */
	u64 created_ns; /* CLOCK_REALTIME */
	int error; /* the snapshot is invalid once set */
	struct file *owner; /* the file that started it */
};

struct exl_target {
	struct kref ref; /* the table holds one, each open file one */
	struct dm_target *ti;
	struct dm_dev *dev;
	char name[EXL_NAME_MAX];
	u64 journal_id;
	sector_t device_sectors;

	spinlock_t lock;
	bool dead; /* the table destroyed it; files may linger */
	bool blocking; /* a snapshot starts: hold data writes */
	unsigned long inflight; /* data writes admitted, not completed */
	u64 next_seq;
	struct bio_list deferred; /* writes held for blocking or COW */
	struct exl_snapshot *snap; /* the active snapshot */
	u64 snap_gen; /* bumped whenever snap changes */
	u64 last_snap_id;
	struct file *reader; /* the file that reads the ring */
	struct exl_journal journal;
	wait_queue_head_t drained;

	struct mutex ctl_mutex; /* serializes snapshot start/stop, dtr */
	struct mutex cow_mutex; /* held while a chunk is copied or read */
	struct mutex read_mutex; /* serializes read(2) and ACK */
	struct workqueue_struct *wq;
	struct work_struct deferred_work;
	struct miscdevice misc;
	char misc_name[EXL_NAME_MAX + 16];
	char misc_nodename[EXL_NAME_MAX + 16];
	struct list_head list; /* in exl_targets, for unique names */

	u64 cow_copies; /* for fault injection */
	u64 data_records;
};

/* Per-bio state, filled in by exl_map(). */
struct exl_io {
	u64 seq;
	u64 issued_ns;
	sector_t sector;
	u32 nr_sectors;
	u16 type; /* enum exl_record_type, 0 for reads */
	u16 flags;
	bool admitted; /* counted in inflight */
};

/* exl-main.c */
extern unsigned int exl_fault_drop_write;
extern unsigned int exl_fault_corrupt_cow;
int exl_name_claim(struct exl_target *xt);
void exl_name_release(struct exl_target *xt);
void exl_target_put(struct exl_target *xt);

/* exl-target.c */
int exl_target_register(void);
void exl_target_unregister(void);
void exl_submit_deferred(struct exl_target *xt);

/* exl-journal.c */
int exl_journal_init(struct exl_journal *j, u64 capacity);
void exl_journal_free(struct exl_journal *j);
void __exl_journal_push(struct exl_journal *j, struct exl_record *rec,
			bool droppable);
void __exl_journal_flush_lost(struct exl_journal *j);
void __exl_journal_marker(struct exl_journal *j, u16 type, u64 arg, int status);
void __exl_journal_ack(struct exl_journal *j, u64 pos);

/* exl-chardev.c */
int exl_chardev_add(struct exl_target *xt);
void exl_chardev_remove(struct exl_target *xt);

/* exl-cow.c */
int exl_snap_start(struct exl_target *xt, struct file *owner,
		   struct file *store, struct exl_snap_start *args);
int exl_snap_stop(struct exl_target *xt, u64 snap_id);
void exl_snap_stop_owned(struct exl_target *xt, struct file *owner);
void exl_snap_end(struct exl_target *xt);
ssize_t exl_snap_read(struct exl_target *xt, struct exl_snap_read *args);
bool __exl_snap_covers(struct exl_snapshot *snap, sector_t sector, u32 nr);
void exl_snap_copy_range(struct exl_target *xt, struct exl_snapshot *snap,
			 sector_t sector, u32 nr);
int exl_read_device(struct exl_target *xt, sector_t sector, void *buf,
		    u32 nr_sectors);

#endif /* EXL_H */
