// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/extentlog/<name>: read(2), poll(2) and ioctl(2) on a target's journal (the
 * interface is described in uapi/extentlog.h). Any number of files may be open for the
 * ioctls; the first one that reads becomes the reader and stays it until closed. Records
 * between the read position and the head are never overwritten (the ring keeps every
 * unacknowledged record), so read(2) copies them out without holding the spinlock.
 */
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "exl.h"

static struct exl_target *exl_file_target(struct file *file)
{
	return file->private_data;
}

static int exl_open(struct inode *inode, struct file *file)
{
	/* misc_open() holds misc_mtx: the target cannot be deregistered meanwhile. */
	struct miscdevice *misc = file->private_data;
	struct exl_target *xt = container_of(misc, struct exl_target, misc);

	kref_get(&xt->ref);
	file->private_data = xt;
	return nonseekable_open(inode, file);
}

static int exl_release(struct inode *inode, struct file *file)
{
	struct exl_target *xt = exl_file_target(file);

	exl_snap_stop_owned(xt, file);
	spin_lock_irq(&xt->lock);
	if (xt->reader == file)
		xt->reader = NULL;
	spin_unlock_irq(&xt->lock);
	exl_target_put(xt);
	return 0;
}

/* Makes @file the reader unless another file is. Caller holds xt->lock. */
static bool __exl_claim_reader(struct exl_target *xt, struct file *file)
{
	if (!xt->reader) {
		xt->reader = file;
		xt->journal.read = xt->journal.tail;
	}
	return xt->reader == file;
}

static bool exl_readable(struct exl_target *xt)
{
	bool ready;

	spin_lock_irq(&xt->lock);
	ready = xt->journal.head != xt->journal.read || xt->dead;
	spin_unlock_irq(&xt->lock);
	return ready;
}

static ssize_t exl_read(struct file *file, char __user *buf, size_t count,
			loff_t *ppos)
{
	struct exl_target *xt = exl_file_target(file);
	struct exl_journal *j = &xt->journal;
	u64 pos, head, n, first, index;
	bool claimed, dead;
	int ret;

	if (count < EXL_RECORD_BYTES)
		return -EINVAL;
	if (mutex_lock_interruptible(&xt->read_mutex))
		return -ERESTARTSYS;
	for (;;) {
		spin_lock_irq(&xt->lock);
		claimed = __exl_claim_reader(xt, file);
		pos = j->read;
		head = j->head;
		dead = xt->dead;
		spin_unlock_irq(&xt->lock);
		if (!claimed) {
			ret = -EBUSY;
			goto out;
		}
		if (head != pos)
			break;
		if (dead) {
			ret = 0;
			goto out;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out;
		}
		mutex_unlock(&xt->read_mutex);
		ret = wait_event_interruptible(j->readers, exl_readable(xt));
		if (ret)
			return ret;
		if (mutex_lock_interruptible(&xt->read_mutex))
			return -ERESTARTSYS;
	}

	n = min_t(u64, head - pos, count / EXL_RECORD_BYTES);
	index = pos & (j->capacity - 1);
	first = min_t(u64, n, j->capacity - index);
	if (copy_to_user(buf, &j->records[index], first * EXL_RECORD_BYTES) ||
	    copy_to_user(buf + first * EXL_RECORD_BYTES, j->records,
			 (n - first) * EXL_RECORD_BYTES)) {
		ret = -EFAULT;
		goto out;
	}
	spin_lock_irq(&xt->lock);
	j->read = pos + n;
	spin_unlock_irq(&xt->lock);
	ret = n * EXL_RECORD_BYTES;
out:
	mutex_unlock(&xt->read_mutex);
	return ret;
}

static __poll_t exl_poll(struct file *file, poll_table *wait)
{
	struct exl_target *xt = exl_file_target(file);
	struct exl_journal *j = &xt->journal;
	__poll_t mask = 0;
	u64 pos;

	poll_wait(file, &j->readers, wait);
	spin_lock_irq(&xt->lock);
	pos = xt->reader == file ? j->read : j->tail;
	if (j->head != pos)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (xt->dead)
		mask |= EPOLLHUP;
	spin_unlock_irq(&xt->lock);
	return mask;
}

static long exl_ack(struct exl_target *xt, struct file *file, u64 __user *arg)
{
	struct exl_journal *j = &xt->journal;
	long ret = 0;
	u64 pos;

	if (get_user(pos, arg))
		return -EFAULT;
	mutex_lock(&xt->read_mutex);
	spin_lock_irq(&xt->lock);
	if (xt->reader != file)
		ret = -EBUSY;
	else if (pos > j->read)
		ret = -EINVAL;
	else if (pos > j->tail)
		__exl_journal_ack(j, pos);
	spin_unlock_irq(&xt->lock);
	mutex_unlock(&xt->read_mutex);
	return ret;
}

static long exl_info(struct exl_target *xt, struct exl_info __user *arg)
{
	struct exl_journal *j = &xt->journal;
	struct exl_info info = {
		.uapi_version = EXL_UAPI_VERSION,
		.record_bytes = EXL_RECORD_BYTES,
		.journal_id = xt->journal_id,
		.device_sectors = xt->device_sectors,
		.ring_records = j->capacity,
	};

	spin_lock_irq(&xt->lock);
	info.head_pos = j->head;
	info.tail_pos = j->tail;
	info.read_pos = xt->reader ? j->read : j->tail;
	info.next_seq = xt->next_seq;
	info.lost_total = j->lost_total;
	info.last_loss_head = j->last_loss_head;
	info.acked_data_end = j->acked_data_end;
	info.inflight_writes = xt->inflight;
	if (xt->snap) {
		info.snap_id = xt->snap->id;
		info.snap_marker_pos = xt->snap->marker_pos;
		info.snap_chunk_bytes = xt->snap->chunk_bytes;
		info.snap_capacity_chunks = xt->snap->capacity;
		info.snap_copied_chunks = READ_ONCE(xt->snap->used);
		info.snap_error = xt->snap->error;
	}
	spin_unlock_irq(&xt->lock);
	info.realtime_offset_ns = ktime_get_real_ns() - ktime_get_ns();
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long exl_ioctl_snap_start(struct exl_target *xt, struct file *file,
				 struct exl_snap_start __user *arg)
{
	struct exl_snap_start args;
	struct file *store;
	long ret;

	if (copy_from_user(&args, arg, sizeof(args)))
		return -EFAULT;
	store = fget(args.cow_fd);
	if (!store)
		return -EBADF;
	ret = exl_snap_start(xt, file, store, &args);
	if (ret)
		return ret;
	if (copy_to_user(arg, &args, sizeof(args))) {
		exl_snap_stop(xt, args.snap_id);
		return -EFAULT;
	}
	return 0;
}

static long exl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct exl_target *xt = exl_file_target(file);
	void __user *uarg = (void __user *)arg;
	struct exl_snap_read read;
	ssize_t done;
	u64 snap_id;

	switch (cmd) {
	case EXL_IOC_INFO:
		return exl_info(xt, uarg);
	case EXL_IOC_ACK:
		return exl_ack(xt, file, uarg);
	case EXL_IOC_SNAP_START:
		return exl_ioctl_snap_start(xt, file, uarg);
	case EXL_IOC_SNAP_STOP:
		if (get_user(snap_id, (u64 __user *)uarg))
			return -EFAULT;
		return exl_snap_stop(xt, snap_id);
	case EXL_IOC_SNAP_READ:
		if (copy_from_user(&read, uarg, sizeof(read)))
			return -EFAULT;
		done = exl_snap_read(xt, &read);
		return done < 0 ? done : 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations exl_fops = {
	.owner = THIS_MODULE,
	.open = exl_open,
	.release = exl_release,
	.read = exl_read,
	.poll = exl_poll,
	.unlocked_ioctl = exl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

int exl_chardev_add(struct exl_target *xt)
{
	snprintf(xt->misc_name, sizeof(xt->misc_name), "extentlog-%s",
		 xt->name);
	snprintf(xt->misc_nodename, sizeof(xt->misc_nodename), "extentlog/%s",
		 xt->name);
	xt->misc.minor = MISC_DYNAMIC_MINOR;
	xt->misc.name = xt->misc_name;
	xt->misc.nodename = xt->misc_nodename;
	xt->misc.mode = 0600;
	xt->misc.fops = &exl_fops;
	return misc_register(&xt->misc);
}

void exl_chardev_remove(struct exl_target *xt)
{
	misc_deregister(&xt->misc);
}
