"""The kernel's TDX global metadata structs today, in order (handoff is outside tdx_sys_info).

Members as the header declares them: type, name and dimensions.
"""

# What the tests that hold the kernel's files today say when the shipped schema stops giving them
NOT_THE_KERNELS = (
    "the shipped settings no longer give the kernel's own tdx_global_metadata.{{c,h}}: {what}. "
    "A field the kernel does not read yet goes in [kernel].exclude_fields of schema/settings.toml. "
    "Once the kernel reads it (tdx-codegen patch), accept the change: update KERNEL_STRUCTS in "
    "tests/kernel/today.py, and MAINLINE_SHA256 and kernel_read_order() in tests/test_kernel_c.py, "
    "to the kernel's new files: {got}"
)

KERNEL_STRUCTS = {
    "tdx_sys_info_version": ["u16 minor_version", "u16 major_version", "u16 update_version"],
    "tdx_sys_info_features": ["u64 tdx_features0"],
    "tdx_sys_info_tdmr": [
        "u16 max_tdmrs",
        "u16 max_reserved_per_tdmr",
        "u16 pamt_4k_entry_size",
        "u16 pamt_2m_entry_size",
        "u16 pamt_1g_entry_size",
    ],
    "tdx_sys_info_td_ctrl": ["u16 tdr_base_size", "u16 tdcs_base_size", "u16 tdvps_base_size"],
    "tdx_sys_info_td_conf": [
        "u64 attributes_fixed0",
        "u64 attributes_fixed1",
        "u64 xfam_fixed0",
        "u64 xfam_fixed1",
        "u16 num_cpuid_config",
        "u16 max_vcpus_per_td",
        "u64 cpuid_config_leaves[128]",
        "u64 cpuid_config_values[128][2]",
    ],
    "tdx_sys_info_handoff": ["u16 module_hv"],
    "tdx_sys_info": [
        "struct tdx_sys_info_version version",
        "struct tdx_sys_info_features features",
        "struct tdx_sys_info_tdmr tdmr",
        "struct tdx_sys_info_td_ctrl td_ctrl",
        "struct tdx_sys_info_td_conf td_conf",
    ],
}
