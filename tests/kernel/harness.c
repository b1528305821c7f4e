// SPDX-License-Identifier: GPL-2.0
/*
 * Test harness for the generated kernel reader (tdx_global_metadata.c).
 *
 * Built by tests/kernel/cbuild.py with -std=gnu11 -Wall -Wextra -Werror against the kernel
 * shim in tests/kernel/include, the generated header and source, a generated tdx_dump.h
 * (dump_sysinfo(), one printf per element of every member) and a separate C file that
 * defines the fake SEAMCALL:
 *
 *	int fake_read(u64 field_id, u64 *data);   returns 0 or a negative errno
 *
 * As in tdx.c, the generated header comes through asm/tdx.h (which defines the TDX_FEATURES0
 * bits the kernel has) and the .c is included right after read_sys_metadata_field().
 *
 * Output, on stdout, after whatever fake_read() printed:
 *	ret=<int>                      what get_tdx_sys_info() returned
 *	<struct>.<member>=0x<hex>      a scalar member
 *	<struct>.<member>[i]=0x<hex>   each of the capacity elements of an array
 *	<struct>.<member>[i][j]=0x<hex>
 * <struct> is the member of struct tdx_sys_info; every member of every struct is printed,
 * in struct order, whatever ret is (struct tdx_sys_info starts zeroed).  Then "apart", and
 * for each struct read on its own (not a member of struct tdx_sys_info), read when its gate
 * is open as the kernel's caller does:
 *	ret.<struct>=<int>             what its reader returned, then its members as above
 * Kernel messages (pr_info, pr_err) go to stderr as "info: ..." and "err: ...".
 */
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <stdio.h>

#include <asm/tdx.h>

int fake_read(u64 field_id, u64 *data);

static int read_sys_metadata_field(u64 field_id, u64 *data)
{
	return fake_read(field_id, data);
}

#include "tdx_global_metadata.c"
#include "tdx_dump.h"

static struct tdx_sys_info sysinfo;

int main(void)
{
	int ret = get_tdx_sys_info(&sysinfo);

	printf("ret=%d\n", ret);
	dump_sysinfo(&sysinfo);
	dump_apart(&sysinfo);
	return 0;
}
