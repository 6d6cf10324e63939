// SPDX-License-Identifier: GPL-2.0
/* bdev_nr_sectors() (5.15). */
#include <linux/blkdev.h>
#include <linux/module.h>

sector_t exl_probe(struct block_device *bdev);
sector_t exl_probe(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}
MODULE_LICENSE("GPL");
