// SPDX-License-Identifier: GPL-2.0
/*
 * The generated TDX global metadata readers built as tdx.c builds them: after the kernel's own
 * TDX headers and a read_sys_metadata_field() of tdx.c's signature, with get_tdx_sys_info()
 * called from an __init function; readers.h, which the test writes, calls the readers that tdx.c
 * calls elsewhere.  The test copies the generated tdx_global_metadata.c here and the generated
 * header to include/asm/, ahead of the tree's include path (see Kbuild).
 */
#define pr_fmt(fmt)	"virt/tdx: " fmt

#include <linux/types.h>
#include <linux/init.h>
#include <linux/errno.h>
#include <linux/printk.h>
#include <linux/bug.h>
#include <linux/module.h>
#include <asm/tdx.h>
#include <asm/tdx_global_metadata.h>
#include "tdx.h"

/*
 * Later kernels' asm/tdx.h define these (the version print, gates and required features use
 * them, and the generated files never redefine them); 6.12's predates them.
 */
#ifndef TDX_VERSION_FMT
#define TDX_VERSION_FMT "%u.%u.%02u"
#endif
#ifndef TDX_FEATURES0_TD_PRESERVING
#define TDX_FEATURES0_TD_PRESERVING	BIT_ULL(1)
#endif
#ifndef TDX_FEATURES0_NO_RBP_MOD
#define TDX_FEATURES0_NO_RBP_MOD	BIT_ULL(18)
#endif

static inline bool tdx_supports_runtime_update(const struct tdx_sys_info *sysinfo)
{
	return sysinfo->features.tdx_features0 & TDX_FEATURES0_TD_PRESERVING;
}

/* tdx.c's SEAMCALL TDH.SYS.RD wrapper, stubbed: every element reads as its field id. */
static int read_sys_metadata_field(u64 field_id, u64 *data)
{
	*data = field_id;
	return 0;
}

#include "tdx_global_metadata.c"
#include "readers.h"

static struct tdx_sys_info tdx_sysinfo;

static int __init tdx_metadata_kbuild_init(void)
{
	return get_tdx_sys_info(&tdx_sysinfo) ?: tdx_metadata_kbuild_init_readers();
}
module_init(tdx_metadata_kbuild_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kbuild check of the generated TDX global metadata readers");
