"""Every identifier the generated code defines, C and Python, in one table.

Emitters take names from here, and the rules (codegen.spec.rules.names)
check the same names, so a schema name that would break the generated
code is an error at its source line rather than a compile failure:

    MD_FIELD_ID_<FIELD>   C define of a field's id        id_define()
    <FIELD>_<BIT>         C define and Python constant     bit_define()
    <STRUCT>_FIELDS       Python field table               fields_table()
    <STRUCT>_GATE         Python struct gate               struct_gate()
    <CName>               Python record class of a struct  class_name()
    read_<struct>         Python reader                    python_reader()
    get_tdx_sys_info_<s>  C reader                         c_reader()
    sysinfo_<struct>      C reader's parameter             c_param()

and the reserved words each kind of schema name must avoid.  Standard
library only: the emitters import it on every build.
"""

from __future__ import annotations

import builtins
import keyword

# Output paths: the kernel's files live under linux/ in generated/ and at the same
# paths, without the prefix, in a kernel tree.
LINUX_PREFIX = "linux/"
KERNEL_HEADER = LINUX_PREFIX + "arch/x86/include/asm/tdx_global_metadata.h"
KERNEL_SOURCE = LINUX_PREFIX + "arch/x86/virt/vmx/tdx/tdx_global_metadata.c"


def python_module(package: str) -> str:
    return f"python/{package}/__init__.py"


# -- patterns ------------------------------------------------------------------


def id_define(field: str) -> str:
    return f"MD_FIELD_ID_{field}"


def bit_define(field: str, bit: str) -> str:
    return f"{field}_{bit}"


def fields_table(struct: str) -> str:
    return f"{struct.upper()}_FIELDS"


def struct_gate(struct: str) -> str:
    return f"{struct.upper()}_GATE"


def class_name(c_name: str) -> str:
    """tdx_sys_info_td_conf -> TdxSysInfoTdConf."""
    return "".join(part[:1].upper() + part[1:] for part in c_name.split("_"))


def python_reader(struct: str) -> str:
    return f"read_{struct}"


def c_reader(struct: str) -> str:
    return f"get_tdx_sys_info_{struct}"


def c_param(struct: str) -> str:
    """The parameter a struct's C reader fills: struct tdx_sys_info_<s> *sysinfo_<s>."""
    return f"sysinfo_{struct}"


# -- reserved words --------------------------------------------------------------

C_KEYWORDS = frozenset(
    """
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
    _Imaginary _Noreturn _Static_assert _Thread_local asm typeof bool true false
""".split()
)

# Macros gcc predefines in the GNU dialects the kernel builds with (gcc -std=gnu11 -dM -E;
# i386 with -m32): a member named linux becomes "1".
GCC_MACROS = frozenset({"linux", "unix", "i386"})

# Kernel names the generated files can see through linux/types.h, linux/bits.h and tdx.c,
# which includes them: macros a name would be expanded by, and the types and helpers
# the generated code uses.
KERNEL_NAMES = frozenset(
    """
    u8 u16 u32 u64 s8 s16 s32 s64 size_t ssize_t uintptr_t NULL current
    BIT BIT_ULL GENMASK GENMASK_ULL BITS_PER_LONG BITS_PER_BYTE ARRAY_SIZE offsetof
    sizeof_field BUILD_BUG_ON BUILD_BUG_ON_ZERO container_of min max min_t max_t clamp
    swap abs likely unlikely READ_ONCE WRITE_ONCE barrier fallthrough noinline
    static_assert pr_info pr_err pr_warn pr_debug printk EINVAL ENODEV ENOMEM
    PAGE_SIZE PAGE_SHIFT ALIGN DIV_ROUND_UP upper_32_bits lower_32_bits
""".split()
)

# What the generated C defines or calls itself (kernel_c and its templates).
C_GENERATED = frozenset(
    """
    MD_FIELD_ID_ELE_SIZE TD_SYSINFO_MAP TD_SYSINFO_MAP_TRUNCATE tdx_metadata_field_mapping
    tdx_store_member read_sys_metadata_field read_sys_metadata_multi read_sys_metadata_array
    tdx_module_release get_tdx_sys_info tdx_sys_info
    _X86_VIRT_TDX_AUTO_GENERATED_TDX_GLOBAL_METADATA_H
""".split()
)

# What the generated Python package defines at module level (templates/python), and the
# methods of codegen.runtime.Record, which members and struct names would shadow.
PY_GENERATED = frozenset(
    """
    annotations CountError ListError MetadataError SeamcallError GENERATOR_VERSION
    BASELINE_RELEASE FIELDS BITS TdxSysInfo read_all read_all_rd read_all_rdall rd_source
    rdall_source has_bit set_bits RUNTIME_ABI diff simulator
""".split()
)
RECORD_METHODS = frozenset({"astuple", "as_dict"})

PY_BUILTINS = frozenset(dir(builtins))


def c_reserved(name: str) -> str | None:
    """Why name cannot be a C identifier of the generated files, or None."""
    if name in C_KEYWORDS:
        return "a C keyword"
    if name in GCC_MACROS:
        return "a macro gcc predefines"
    if name in KERNEL_NAMES:
        return "a kernel macro or type the generated files see"
    if name in C_GENERATED:
        return "a name the generated C defines itself"
    return None


def python_reserved(name: str, *, module_level: bool) -> str | None:
    """Why name cannot be a Python name of the generated package, or None.

    module_level: a name of the module (class, table, constant), which must also
    keep clear of builtins; otherwise an attribute of a record.
    """
    if keyword.iskeyword(name):
        return "a Python keyword"
    if keyword.issoftkeyword(name):
        return "a Python soft keyword"
    if name in RECORD_METHODS:
        return "a method of the generated record classes"
    if module_level and name in PY_GENERATED:
        return "a name the generated Python package defines itself"
    if module_level and name in PY_BUILTINS:
        return "a Python builtin"
    return None
