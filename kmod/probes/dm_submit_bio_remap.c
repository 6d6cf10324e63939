// SPDX-License-Identifier: GPL-2.0
/* dm_submit_bio_remap() and dm_target.accounts_remapped_io (5.18). */
#include <linux/device-mapper.h>
#include <linux/module.h>

void exl_probe(struct dm_target *ti, struct bio *bio);
void exl_probe(struct dm_target *ti, struct bio *bio)
{
	ti->accounts_remapped_io = true;
	dm_submit_bio_remap(bio, NULL);
}
MODULE_LICENSE("GPL");
