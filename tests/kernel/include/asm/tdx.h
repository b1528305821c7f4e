/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test shim of what the kernel's asm/tdx.h gives the generated files: the TDX_FEATURES0
 * bits tdx.c tests, the version format, and a kernel helper standing for a feature gate.
 */
#ifndef _SHIM_ASM_X86_TDX_H
#define _SHIM_ASM_X86_TDX_H

#include <linux/bits.h>

#define TDX_FEATURES0_TD_PRESERVING	BIT_ULL(1)
#define TDX_FEATURES0_NO_RBP_MOD	BIT_ULL(18)

#include <asm/tdx_global_metadata.h>

#define TDX_VERSION_FMT "%u.%u.%02u"

/* The kernel's is a static inline function; a macro needs no struct layout here. */
#define tdx_supports_runtime_update(sysinfo)	\
	((sysinfo)->features.tdx_features0 & TDX_FEATURES0_TD_PRESERVING)

#endif
