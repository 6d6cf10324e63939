// SPDX-License-Identifier: GPL-2.0
/* STATUSTYPE_IMA in status_type_t (5.15). */
#include <linux/device-mapper.h>
#include <linux/module.h>

status_type_t exl_probe(void);
status_type_t exl_probe(void)
{
	return STATUSTYPE_IMA;
}
MODULE_LICENSE("GPL");
