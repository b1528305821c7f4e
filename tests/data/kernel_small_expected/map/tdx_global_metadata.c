// SPDX-License-Identifier: GPL-2.0
/*
 * Automatically generated functions to read TDX global metadata.
 *
 * This file doesn't compile on its own as it lacks of inclusion
 * of SEAMCALL wrapper primitive which reads global metadata.
 * Include this file to other C file instead.
 */

#define MD_FIELD_ID_MINOR_VERSION	0x0800000100000003ULL
#define MD_FIELD_ID_MAJOR_VERSION	0x0800000100000004ULL
#define MD_FIELD_ID_UPDATE_VERSION	0x0800000100000005ULL
#define MD_FIELD_ID_TDX_FEATURES0	0x0A00000300000008ULL
#define MD_FIELD_ID_NUM_ENTRIES		0x9000000100000000ULL
#define MD_FIELD_ID_BYTE_WIDE		0x9000000000000001ULL
#define MD_FIELD_ID_SHORT_TRUNC		0x9000000100000002ULL
#define MD_FIELD_ID_WORD		0x9000000200000003ULL
#define MD_FIELD_ID_ENTRY_BASE		0x9000000300000010ULL
#define MD_FIELD_ID_ENTRY_PAIR		0x9000000300000020ULL
#define MD_FIELD_ID_SMALL_ARRAY		0x9000000000000030ULL
#define MD_FIELD_ID_DYN_BITS		0x9000000000000040ULL
#define MD_FIELD_ID_NEW_LIMIT		0x9000000100000041ULL
#define MD_FIELD_ID_MODULE_HV		0x8900000100000000ULL

/* Element size in bytes encoded in a field id (ELEMENT_SIZE_CODE, bits 33:32). */
#define MD_FIELD_ID_ELE_SIZE(_field_id)	\
	(1ULL << (((_field_id) & GENMASK_ULL(33, 32)) >> 32))

/* Where one field is read to: its id, its member (the first element) and the member's size. */
struct tdx_metadata_field_mapping {
	u64 field_id;
	void *member;
	int size;
};

/* An entry for the member at _member; the build fails when the field's element does not fit. */
#define TD_SYSINFO_MAP(_field_id, _member)						\
	{ .field_id = MD_FIELD_ID_##_field_id,						\
	  .member   = (_member),							\
	  .size     = sizeof((_member)[0]) +						\
		      BUILD_BUG_ON_ZERO(MD_FIELD_ID_ELE_SIZE(MD_FIELD_ID_##_field_id) >	\
					sizeof((_member)[0])) }

/* An entry of a field the schema marks truncate = true: the member keeps the low bytes. */
#define TD_SYSINFO_MAP_TRUNCATE(_field_id, _member)	\
	{ .field_id = MD_FIELD_ID_##_field_id,		\
	  .member   = (_member),			\
	  .size     = sizeof((_member)[0]) }

/* Store an element in a member of 1, 2, 4 or 8 bytes. */
static __init void tdx_store_member(void *member, int size, u64 val)
{
	switch (size) {
	case 1:
		*(u8 *)member = val;
		break;
	case 2:
		*(u16 *)member = val;
		break;
	case 4:
		*(u32 *)member = val;
		break;
	default:
		*(u64 *)member = val;
		break;
	}
}

/* Read each field of a mapping table into its member. */
static __init int read_sys_metadata_multi(const struct tdx_metadata_field_mapping *fields,
					  int nr_fields)
{
	u64 val;
	int i, ret;

	for (i = 0; i < nr_fields; i++) {
		ret = read_sys_metadata_field(fields[i].field_id, &val);
		if (ret)
			return ret;
		tdx_store_member(fields[i].member, fields[i].size, val);
	}
	return 0;
}

/*
 * Read nr_elements consecutive elements of an array field: element k has id field_id + k and is
 * stored k elements after the member's first element.
 */
static __init int read_sys_metadata_array(const struct tdx_metadata_field_mapping *field,
					  unsigned int nr_elements)
{
	unsigned int k;
	u64 val;
	int ret;

	for (k = 0; k < nr_elements; k++) {
		ret = read_sys_metadata_field(field->field_id + k, &val);
		if (ret)
			return ret;
		tdx_store_member(field->member + k * field->size, field->size, val);
	}
	return 0;
}

/* The module release as major << 16 | minor << 8 | update, for release gates. */
static __init u32 tdx_module_release(const struct tdx_sys_info *sysinfo)
{
	return (u32)sysinfo->version.major_version << 16 |
	       (u32)sysinfo->version.minor_version << 8 |
	       sysinfo->version.update_version;
}

static __init int get_tdx_sys_info_version(struct tdx_sys_info_version *sysinfo_version)
{
	const struct tdx_metadata_field_mapping fields[] = {
		TD_SYSINFO_MAP(MINOR_VERSION, &sysinfo_version->minor_version),
		TD_SYSINFO_MAP(MAJOR_VERSION, &sysinfo_version->major_version),
		TD_SYSINFO_MAP(UPDATE_VERSION, &sysinfo_version->update_version),
	};

	return read_sys_metadata_multi(fields, ARRAY_SIZE(fields));
}

static __init int get_tdx_sys_info_features(struct tdx_sys_info_features *sysinfo_features)
{
	const struct tdx_metadata_field_mapping fields[] = {
		TD_SYSINFO_MAP(TDX_FEATURES0, &sysinfo_features->tdx_features0),
	};

	return read_sys_metadata_multi(fields, ARRAY_SIZE(fields));
}

static __init int get_tdx_sys_info_tables(struct tdx_sys_info_tables *sysinfo_tables,
					  const struct tdx_sys_info *sysinfo)
{
	const struct tdx_metadata_field_mapping fields[] = {
		TD_SYSINFO_MAP(NUM_ENTRIES, &sysinfo_tables->num_entries),
		TD_SYSINFO_MAP(BYTE_WIDE, &sysinfo_tables->byte_wide),
		TD_SYSINFO_MAP_TRUNCATE(SHORT_TRUNC, &sysinfo_tables->short_trunc),
		TD_SYSINFO_MAP(WORD, &sysinfo_tables->word),
	};
	const struct tdx_metadata_field_mapping fields_tdx_features0_dynamic_pamt[] = {
		TD_SYSINFO_MAP(DYN_BITS, &sysinfo_tables->dyn_bits),
	};
	const struct tdx_metadata_field_mapping fields_release_1_5_06[] = {
		TD_SYSINFO_MAP(NEW_LIMIT, &sysinfo_tables->new_limit),
	};
	const struct tdx_metadata_field_mapping map_entry_base =
		TD_SYSINFO_MAP(ENTRY_BASE, sysinfo_tables->entry_base);
	const struct tdx_metadata_field_mapping map_entry_pair =
		TD_SYSINFO_MAP(ENTRY_PAIR, sysinfo_tables->entry_pair[0]);
	const struct tdx_metadata_field_mapping map_small_array =
		TD_SYSINFO_MAP(SMALL_ARRAY, sysinfo_tables->small_array);
	int ret;

	ret = read_sys_metadata_multi(fields, ARRAY_SIZE(fields));
	if (ret)
		return ret;

	if (sysinfo->features.tdx_features0 & TDX_FEATURES0_DYNAMIC_PAMT) {
		ret = read_sys_metadata_multi(fields_tdx_features0_dynamic_pamt,
					      ARRAY_SIZE(fields_tdx_features0_dynamic_pamt));
		if (ret)
			return ret;
	}

	if (tdx_module_release(sysinfo) >= 0x010506) {
		ret = read_sys_metadata_multi(fields_release_1_5_06,
					      ARRAY_SIZE(fields_release_1_5_06));
		if (ret)
			return ret;
	}

	if (sysinfo_tables->num_entries > ARRAY_SIZE(sysinfo_tables->entry_base))
		return -EINVAL;
	ret = read_sys_metadata_array(&map_entry_base, sysinfo_tables->num_entries);
	if (ret)
		return ret;

	if (sysinfo_tables->num_entries > ARRAY_SIZE(sysinfo_tables->entry_pair))
		return -EINVAL;
	ret = read_sys_metadata_array(&map_entry_pair, sysinfo_tables->num_entries * 2);
	if (ret)
		return ret;

	return read_sys_metadata_array(&map_small_array, 3);
}

static __init int get_tdx_sys_info_handoff(struct tdx_sys_info_handoff *sysinfo_handoff)
{
	const struct tdx_metadata_field_mapping fields[] = {
		TD_SYSINFO_MAP(MODULE_HV, &sysinfo_handoff->module_hv),
	};

	return read_sys_metadata_multi(fields, ARRAY_SIZE(fields));
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
