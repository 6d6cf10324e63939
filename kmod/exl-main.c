// SPDX-License-Identifier: GPL-2.0
/*
 * extentlog module: registers the dm target "extentlog" and keeps the names of its
 * journals unique (each name is a character device, /dev/extentlog/<name>).
 *
 * The fault_* parameters exist for the module's own tests: they make it misbehave on
 * purpose so that the tests can show they notice. Leave them at 0.
 */
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "exl.h"

unsigned int exl_fault_drop_write;
module_param_named(fault_drop_write, exl_fault_drop_write, uint, 0644);
MODULE_PARM_DESC(
	fault_drop_write,
	"test only: leave the Nth data write out of the journal (0: off)");

unsigned int exl_fault_corrupt_cow;
module_param_named(fault_corrupt_cow, exl_fault_corrupt_cow, uint, 0644);
MODULE_PARM_DESC(
	fault_corrupt_cow,
	"test only: corrupt the Nth chunk copied to a COW store (0: off)");

static LIST_HEAD(exl_targets);
static DEFINE_MUTEX(exl_targets_mutex);

int exl_name_claim(struct exl_target *xt)
{
	struct exl_target *other;
	int ret = 0;

	mutex_lock(&exl_targets_mutex);
	list_for_each_entry(other, &exl_targets, list) {
		if (!strcmp(other->name, xt->name)) {
			ret = -EEXIST;
			goto out;
		}
	}
	list_add(&xt->list, &exl_targets);
out:
	mutex_unlock(&exl_targets_mutex);
	return ret;
}

void exl_name_release(struct exl_target *xt)
{
	mutex_lock(&exl_targets_mutex);
	list_del_init(&xt->list);
	mutex_unlock(&exl_targets_mutex);
}

static void exl_target_release(struct kref *ref)
{
	struct exl_target *xt = container_of(ref, struct exl_target, ref);

	exl_journal_free(&xt->journal);
	kfree(xt);
}

void exl_target_put(struct exl_target *xt)
{
	kref_put(&xt->ref, exl_target_release);
}

static int __init exl_init(void)
{
	int ret = exl_target_register();

	if (ret)
		DMERR("register failed %d", ret);
	return ret;
}

static void __exit exl_exit(void)
{
	exl_target_unregister();
}

module_init(exl_init);
module_exit(exl_exit);

MODULE_AUTHOR("extentlog contributors");
MODULE_DESCRIPTION(DM_NAME
		   " target journaling writes with copy-on-write snapshots");
MODULE_LICENSE("GPL");
