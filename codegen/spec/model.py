"""The validated schema: the only thing emitters and the simulator see.

Frozen, sorted by (class, field code), checked by codegen.spec.rules and
built by codegen.spec.elaborate, so consumers never re-check.  It carries
the facts the rules proved (a field truncates, may be absent, depends on
other fields), so no emitter re-derives them.  Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codegen.abi import fieldid
from codegen.abi.release import VERSION_FIELDS, Release, Since
from codegen.spec import names

C_TYPE_BYTES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}


@dataclass(frozen=True)
class Source:
    """Where an entry is defined: file as shown to users, line, and key path.

    The key path, such as ("field", 3), identifies the entry; the line is
    only for people (entries of an inline array can share one line).
    """

    file: str
    line: int
    path: tuple = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Bit:
    name: str
    bit: int
    description: str = ""


@dataclass(frozen=True)
class Gate:
    """Feature gate (field.bit set) or release gate (module release >= release)."""

    feature_field: str | None = None  # ABI name of the flag field
    feature_bit: str | None = None  # bit name in that field
    bit: int | None = None  # bit index
    release: Release | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        """Fields whose values decide the gate: the flag field, or the release fields."""
        return VERSION_FIELDS if self.release is not None else (self.feature[0],)

    @property
    def feature(self) -> tuple[str, str]:
        """(flag field, bit name) of a feature gate."""
        if self.feature_field is None or self.feature_bit is None:
            raise ValueError(f"{self.text} is not a feature gate")
        return self.feature_field, self.feature_bit

    @property
    def text(self) -> str:
        if self.release is not None:
            return f"release >= {self.release}"
        return f"{self.feature_field}.{self.feature_bit}"


# Attributes a reconcile with Intel's JSON compares, so an override may name them.
OVERRIDABLE = ("id", "element_size", "num_fields", "num_elements", "capacity")


@dataclass(frozen=True)
class Override:
    """Intel's JSON says `json` for `key`; the schema differs on purpose, for `reason`."""

    key: str  # one of OVERRIDABLE
    json: int
    reason: str


@dataclass(frozen=True)
class MdClass:
    code: int
    name: str
    description: str
    source: Source


@dataclass(frozen=True)
class Field:
    name: str
    id: int  # base id as declared (bit 63 included)
    class_code: int
    field_code: int
    element_size: int  # bytes
    num_fields: int
    num_elements: int
    struct: str  # Struct.name
    member: str  # bare C identifier, dims stripped
    ctype: str  # u8 / u16 / u32 / u64
    description: str
    since: Since | None  # None: in no public module release
    host_readable: bool
    guest_readable: bool | None
    capacity: int  # fields the struct member holds
    count: str | None  # ABI name of the live-count field
    gate: Gate | None
    truncate: bool
    bits: tuple[Bit, ...]
    unverified: str | None
    source: Source
    overrides: tuple[Override, ...] = ()  # sorted by key
    optional: bool = False  # a module of the baseline release may lack it
    nullable: bool = False  # a reader may give None: gated, optional, or counted by one

    def override(self, key: str) -> Override | None:
        return next((o for o in self.overrides if o.key == key), None)

    @property
    def key(self) -> tuple[int, int]:
        return self.class_code, self.field_code

    @property
    def non_arch(self) -> bool:
        return bool(self.id & fieldid.NON_ARCH_BIT)

    @property
    def num_ids(self) -> int:
        """Element ids this entry covers in the module's table."""
        return self.num_fields * self.num_elements

    @property
    def is_array(self) -> bool:
        return self.num_fields > 1

    @property
    def is_scalar(self) -> bool:
        return self.num_fields == 1 and self.num_elements == 1

    @property
    def dims(self) -> tuple[int, ...]:
        """C array dimensions of the struct member ((), (n,), (n, m) or (m,))."""
        dims: tuple[int, ...] = ()
        if self.num_fields > 1:
            dims += (self.capacity,)
        if self.num_elements > 1:
            dims += (self.num_elements,)
        return dims

    @property
    def declarator(self) -> str:
        """The struct member as C declares it: cmr_base[32], cpuid_config_values[32][2]."""
        if self.num_fields == 1 and self.num_elements == 1:  # most are: no join to build
            return self.member
        return self.member + "".join(f"[{n}]" for n in self.dims)

    @property
    def element_mask(self) -> int:
        """The bits one element of the module's table holds."""
        return (1 << 8 * self.element_size) - 1

    @property
    def member_bytes(self) -> int:
        return C_TYPE_BYTES[self.ctype]

    @property
    def truncates(self) -> bool:
        """The member is narrower than the element (the schema says truncate = true)."""
        return self.member_bytes < self.element_size

    @property
    def reads(self) -> tuple[str, ...]:
        """Fields that must be read before this one: its live count and its gate's inputs."""
        return ((self.count,) if self.count else ()) + (self.gate.reads if self.gate else ())

    @property
    def size_code(self) -> int:
        return fieldid.size_code(self.element_size)

    def element_id(self, field_index: int, element: int = 0) -> int:
        """Id of element `element` of field `field_index` of this entry."""
        return fieldid.element_id(self.id, field_index * self.num_elements + element)


@dataclass(frozen=True)
class Struct:
    name: str  # member of struct tdx_sys_info
    c_name: str
    description: str
    gate: Gate | None
    fields: tuple[Field, ...]  # in (class, field code) order
    source: Source

    def gates(self, f: Field) -> tuple[Gate, ...]:
        """What a read of f, one of this struct's fields, waits on: this gate, then f's."""
        return tuple(g for g in (self.gate, f.gate) if g is not None)


@dataclass(frozen=True)
class ModuleRelease:
    """A module release the schema's profiles describe (schema/profiles/NAME.toml)."""

    name: str  # the profile's file stem
    release: Release
    source: str  # the profile file, as generated banners show it


@dataclass(frozen=True)
class KernelStruct:
    """How one struct's reader looks in the kernel ([kernel.struct.NAME], defaults applied)."""

    init: bool
    in_sysinfo: bool  # a member of struct tdx_sys_info, read by get_tdx_sys_info()
    member: str  # its member in struct tdx_sys_info
    reader: str  # its reader function
    errors: str  # "chain" (ret = ret ?: ...) or "return" (if (ret) return ret;)


@dataclass(frozen=True)
class KernelStructGiven:
    """[kernel.struct.NAME] as written: None where KernelOptions' default applies."""

    init: bool | None = None
    in_sysinfo: bool = True
    member: str | None = None
    reader: str | None = None
    errors: str | None = None


@dataclass(frozen=True)
class KernelPrint:
    members: tuple[tuple[str, str], ...]  # (struct, member)
    prefix: str = ""
    format: str = ""  # printf conversions, or a macro naming them ("" : one per member)
    when: str = "ok"  # "always" or "ok"


@dataclass(frozen=True)
class KernelOptions:
    flavor: str
    structs: tuple[str, ...]
    exclude_fields: frozenset[str]
    init: bool
    named_ids: bool
    print: KernelPrint | None
    require_features: tuple[tuple[str, str], ...]  # (field, bit name)
    errors: str = "chain"
    bit_defines: bool = False
    struct_comments: bool = False
    provenance: bool = False
    gate_helpers: tuple[tuple[str, str], ...] = ()  # ("FIELD.BIT", helper)
    header_banner: tuple[str, ...] = ()
    source_banner: tuple[str, ...] = ()
    guard: str = "_X86_VIRT_TDX_AUTO_GENERATED_TDX_GLOBAL_METADATA_H"
    includes: tuple[str, ...] = ("linux/types.h",)
    top_init: bool | None = None  # None: as init
    struct_settings: tuple[tuple[str, KernelStructGiven], ...] = ()
    baseline: Release | None = None  # [kernel].baseline; None: the schema's (kernel_baseline)

    def struct_options(self, name: str) -> KernelStruct:
        given = dict(self.struct_settings).get(name) or KernelStructGiven()
        return KernelStruct(
            init=self.init if given.init is None else given.init,
            in_sysinfo=given.in_sysinfo,
            member=given.member or name,
            reader=given.reader or names.c_reader(name),
            errors=given.errors or self.errors,
        )

    @property
    def top_is_init(self) -> bool:
        return self.init if self.top_init is None else self.top_init

    def gate_helper(self, gate: Gate) -> str | None:
        if gate.release is not None:
            return None
        return dict(self.gate_helpers).get(f"{gate.feature_field}.{gate.feature_bit}")


@dataclass(frozen=True)
class Settings:
    baseline: Release
    kernel: KernelOptions
    python_package: str
    python_structs: tuple[str, ...]
    docs_structs: tuple[str, ...]

    @property
    def kernel_baseline(self) -> Release:
        """The oldest module release the kernel's reads must work on."""
        return self.kernel.baseline or self.baseline


@dataclass(frozen=True)
class Catalogue:
    classes: tuple[MdClass, ...]  # by code
    fields: tuple[Field, ...]  # by (class, field code)
    structs: tuple[Struct, ...]  # by name
    settings: Settings
    sources: tuple[str, ...]  # schema files, as shown, sorted
    releases: tuple[ModuleRelease, ...] = ()  # of the profiles, by release then name
    # Derived from the tuples above, never passed in: dataclasses.replace() builds them anew.
    _keys: tuple = field(init=False, repr=False, compare=False)
    _sizes: tuple = field(init=False, repr=False, compare=False)
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # lookups by name stay O(1) however large the schema
        index = {("field", f.name): f for f in self.fields}
        index.update({("struct", s.name): s for s in self.structs})
        index.update({("class", c.code): c for c in self.classes})
        object.__setattr__(self, "_keys", tuple(f.key for f in self.fields))
        object.__setattr__(self, "_sizes", tuple(f.num_ids for f in self.fields))
        object.__setattr__(self, "_index", index)

    # -- lookups ---------------------------------------------------------
    def field(self, name: str) -> Field:
        try:
            return self._index[("field", name)]
        except KeyError:
            raise KeyError(name) from None

    def struct(self, name: str) -> Struct:
        try:
            return self._index[("struct", name)]
        except KeyError:
            raise KeyError(name) from None

    def md_class(self, code: int) -> MdClass | None:
        return self._index.get(("class", code))

    def locate(self, field_id: int) -> tuple[Field, int, int] | None:
        """(field, field index, element) holding field_id's (class, code), or None."""
        found = fieldid.find_entry(self._keys, self._sizes, field_id)
        if found is None:
            return None
        f = self.fields[found[0]]
        return f, found[1] // f.num_elements, found[1] % f.num_elements

    def output_structs(self, output: str) -> tuple[Struct, ...]:
        """Structs of one output ("kernel", "python", "docs") in read order."""
        names = {
            "kernel": self.settings.kernel.structs,
            "python": self.settings.python_structs,
            "docs": self.settings.docs_structs,
        }[output]
        by_name = {s.name: s for s in self.structs}
        return tuple(by_name[n] for n in names)

    def output_fields(self, output: str, struct: Struct) -> tuple[Field, ...]:
        if output == "kernel":
            excluded = self.settings.kernel.exclude_fields
            return tuple(f for f in struct.fields if f.name not in excluded)
        return struct.fields

    def optional(self, f: Field) -> bool:
        """True when a module of the baseline release may lack this field."""
        return f.optional

    def depends_on(self, s: Struct, output: str) -> frozenset[str]:
        """Other structs whose members reading s's fields in output needs (counts, gates)."""
        return frozenset(
            self.field(n).struct for f in self.output_fields(output, s) for n in f.reads
        ) - {s.name}

    def fields_of(self, release: Release) -> tuple[Field, ...]:
        """The fields a module of `release` has, by its fields' since."""
        return tuple(f for f in self.fields if f.since is not None and f.since.has(release))
