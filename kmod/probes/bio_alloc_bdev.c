// SPDX-License-Identifier: GPL-2.0
/* bio_alloc() takes the block device and the op (5.18). */
#include <linux/bio.h>
#include <linux/module.h>

struct bio *exl_probe(struct block_device *bdev);
struct bio *exl_probe(struct block_device *bdev)
{
	return bio_alloc(bdev, 1, REQ_OP_READ, GFP_NOIO);
}
MODULE_LICENSE("GPL");
