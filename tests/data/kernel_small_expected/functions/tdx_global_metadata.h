/* SPDX-License-Identifier: GPL-2.0 */
/* Automatically generated TDX global metadata structures. */
#ifndef _X86_VIRT_TDX_AUTO_GENERATED_TDX_GLOBAL_METADATA_H
#define _X86_VIRT_TDX_AUTO_GENERATED_TDX_GLOBAL_METADATA_H

#include <linux/bits.h>
#include <linux/types.h>

/* Bit definitions of TDX_FEATURES0 metadata field */
#define TDX_FEATURES0_DYNAMIC_PAMT	BIT_ULL(36)

struct tdx_sys_info_version {
	u16 minor_version;
	u16 major_version;
	u16 update_version;
};

struct tdx_sys_info_features {
	u64 tdx_features0;
};

struct tdx_sys_info_tables {
	u16 num_entries;
	u32 byte_wide;
	u8 short_trunc;
	u32 word;
	u64 entry_base[6];
	u64 entry_pair[4][2];
	u8 small_array[3];
	u8 dyn_bits;
	u16 new_limit;
};

struct tdx_sys_info_handoff {
	u16 module_hv;
};

struct tdx_sys_info {
	struct tdx_sys_info_version version;
	struct tdx_sys_info_features features;
	struct tdx_sys_info_tables tables;
	struct tdx_sys_info_handoff handoff;
};

#endif
