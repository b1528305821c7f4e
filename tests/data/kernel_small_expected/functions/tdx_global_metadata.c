// SPDX-License-Identifier: GPL-2.0
/*
 * Automatically generated functions to read TDX global metadata.
 *
 * This file doesn't compile on its own as it lacks of inclusion
 * of SEAMCALL wrapper primitive which reads global metadata.
 * Include this file to other C file instead.
 */

/* The module release as major << 16 | minor << 8 | update, for release gates. */
static __init u32 tdx_module_release(const struct tdx_sys_info *sysinfo)
{
	return (u32)sysinfo->version.major_version << 16 |
	       (u32)sysinfo->version.minor_version << 8 |
	       sysinfo->version.update_version;
}

static __init int get_tdx_sys_info_version(struct tdx_sys_info_version *sysinfo_version)
{
	int ret = 0;
	u64 val;

	if (!ret && !(ret = read_sys_metadata_field(0x0800000100000003, &val)))
		sysinfo_version->minor_version = val;
	if (!ret && !(ret = read_sys_metadata_field(0x0800000100000004, &val)))
		sysinfo_version->major_version = val;
	if (!ret && !(ret = read_sys_metadata_field(0x0800000100000005, &val)))
		sysinfo_version->update_version = val;

	return ret;
}

static __init int get_tdx_sys_info_features(struct tdx_sys_info_features *sysinfo_features)
{
	int ret = 0;
	u64 val;

	if (!ret && !(ret = read_sys_metadata_field(0x0A00000300000008, &val)))
		sysinfo_features->tdx_features0 = val;

	return ret;
}

static __init int get_tdx_sys_info_tables(struct tdx_sys_info_tables *sysinfo_tables,
					  const struct tdx_sys_info *sysinfo)
{
	int ret = 0;
	u64 val;
	int i, j;

	if (!ret && !(ret = read_sys_metadata_field(0x9000000100000000, &val)))
		sysinfo_tables->num_entries = val;
	if (!ret && !(ret = read_sys_metadata_field(0x9000000000000001, &val)))
		sysinfo_tables->byte_wide = val;
	/* SHORT_TRUNC: truncate = true in the schema, the 2-byte element is stored in a u8. */
	if (!ret && !(ret = read_sys_metadata_field(0x9000000100000002, &val)))
		sysinfo_tables->short_trunc = (u8)val;
	if (!ret && !(ret = read_sys_metadata_field(0x9000000200000003, &val)))
		sysinfo_tables->word = val;
	if (sysinfo_tables->num_entries > ARRAY_SIZE(sysinfo_tables->entry_base))
		return -EINVAL;
	for (i = 0; i < sysinfo_tables->num_entries; i++)
		if (!ret && !(ret = read_sys_metadata_field(0x9000000300000010 + i, &val)))
			sysinfo_tables->entry_base[i] = val;
	if (sysinfo_tables->num_entries > ARRAY_SIZE(sysinfo_tables->entry_pair))
		return -EINVAL;
	for (i = 0; i < sysinfo_tables->num_entries; i++)
		for (j = 0; j < 2; j++)
			if (!ret && !(ret = read_sys_metadata_field(0x9000000300000020 + i * 2 + j, &val)))
				sysinfo_tables->entry_pair[i][j] = val;
	for (i = 0; i < 3; i++)
		if (!ret && !(ret = read_sys_metadata_field(0x9000000000000030 + i, &val)))
			sysinfo_tables->small_array[i] = val;
	if (sysinfo->features.tdx_features0 & TDX_FEATURES0_DYNAMIC_PAMT)
		if (!ret && !(ret = read_sys_metadata_field(0x9000000000000040, &val)))
			sysinfo_tables->dyn_bits = val;
	if (tdx_module_release(sysinfo) >= 0x010506)
		if (!ret && !(ret = read_sys_metadata_field(0x9000000100000041, &val)))
			sysinfo_tables->new_limit = val;

	return ret;
}

static __init int get_tdx_sys_info_handoff(struct tdx_sys_info_handoff *sysinfo_handoff)
{
	int ret = 0;
	u64 val;

	if (!ret && !(ret = read_sys_metadata_field(0x8900000100000000, &val)))
		sysinfo_handoff->module_hv = val;

	return ret;
}

static __init int get_tdx_sys_info(struct tdx_sys_info *sysinfo)
{
	int ret = 0;

	ret = ret ?: get_tdx_sys_info_version(&sysinfo->version);

	if (!ret)
		pr_info("Module version: %u.%u.%02u\n",
			sysinfo->version.major_version,
			sysinfo->version.minor_version,
			sysinfo->version.update_version);

	ret = ret ?: get_tdx_sys_info_features(&sysinfo->features);

	if (!ret && !(sysinfo->features.tdx_features0 & TDX_FEATURES0_NO_RBP_MOD)) {
		pr_err("TDX module lacks required feature TDX_FEATURES0.NO_RBP_MOD\n");
		ret = -EINVAL;
	}

	ret = ret ?: get_tdx_sys_info_tables(&sysinfo->tables, sysinfo);

	if (sysinfo->features.tdx_features0 & TDX_FEATURES0_TD_PRESERVING)
		ret = ret ?: get_tdx_sys_info_handoff(&sysinfo->handoff);

	return ret;
}
