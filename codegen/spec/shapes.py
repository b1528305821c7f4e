"""The shape of schema files, checked by pydantic.

These models say which keys exist and what type each holds; nothing here
looks across entries (that is codegen.rules).  Each [[field]], [[struct]]
and [class] table is validated on its own so one bad entry does not hide
the problems of the others.

Over 400 lines on purpose: every key of every table is declared here with
the description the JSON Schema and the docs give it, so the reference of
the schema format reads in one module.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

# tdx-codegen uses no pydantic plugin; without this, pydantic's plugin loader reads the
# entry points of every installed distribution on the first validation (about a fifth
# of a cold build).  setdefault: a user who does want plugins can still say so.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic import Field as PField
from pydantic_core import ErrorDetails, PydanticCustomError

from codegen import chars

CType = Literal["u8", "u16", "u32", "u64"]
Flavor = Literal["map", "functions"]


def _exact_int(value):
    # a Literal of ints compares with ==, so true and 8.0 would pass as 1 and 8
    if isinstance(value, (bool, float)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


ElementSize = Annotated[Literal[1, 2, 4, 8], BeforeValidator(_exact_int)]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when it is first used, so the tables
    # validated only inside another (BitSpec, GateSpec, the [kernel] sub-tables) never
    # build one of their own, and a command that validates nothing builds none
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, populate_by_name=True, defer_build=True
    )


class BitSpec(_Strict):
    bit: int = PField(ge=0, le=63, description="bit index, 0..63")
    description: str = PField(default="", description="what the bit means")


class GateSpec(_Strict):
    """Read only when a feature bit is set, or only from a module release on."""

    feature: str | None = PField(
        default=None,
        description=(
            'read only when this feature bit is set: "FIELD.BIT", e.g. '
            '"TDX_FEATURES0.TD_PRESERVING"'
        ),
    )
    release: str | None = PField(
        default=None, description='read only from this module release on, e.g. "1.5.06"'
    )


GateValue = str | GateSpec


class OverrideSpec(_Strict):
    """A reviewed deviation from Intel's JSON: what the JSON says, and why the schema differs."""

    json_: int | str = PField(
        alias="json", description="the value Intel's JSON gives (an id as a hex string)"
    )
    reason: str = PField(description="why the schema differs from Intel's JSON (reviewed)")


class ClassSpec(_Strict):
    code: int = PField(ge=0, le=63, description="the class code, 0..63 (CLASS_CODE of the ids)")
    name: str = PField(description='the class\'s name, e.g. "TDMR Info"')
    description: str = PField(default="", description="what the class holds")


class StructSpec(_Strict):
    name: str = PField(description='the struct\'s member in struct tdx_sys_info, e.g. "tdmr"')
    c_name: str = PField(description='the C struct tag, e.g. "tdx_sys_info_tdmr"')
    description: str = PField(
        description="what the struct holds (a docstring and comment in the generated code)"
    )
    gate: GateValue | None = PField(
        default=None, description='read the struct only then: "FIELD.BIT" or { release = "1.5.06" }'
    )


class FieldSpec(_Strict):
    name: str = PField(description='the ABI name, e.g. "MAX_TDMRS"')
    id: str = PField(description='base field id, a hex string, e.g. "0x9100000100000008"')
    class_: int | str = PField(alias="class", description="class code (or the class's name)")
    element_size: ElementSize = PField(description="bytes per element: 1, 2, 4 or 8")
    num_fields: int = PField(
        default=1,
        ge=1,
        le=512,
        description="fields of the module's table entry (the array's capacity)",
    )
    num_elements: int = PField(default=1, ge=1, le=16, description="elements per field")
    struct: str = PField(description="the struct it is read into (its name)")
    member: str = PField(description="the C member, optionally with [N] dimensions")
    type: CType = PField(description="C type of the member: u8, u16, u32 or u64")
    description: str = PField(description="what the field holds")
    since: str | list[str] | None = PField(
        default=None,
        description=(
            "first module release with the field (one per release line); absent: none public"
        ),
    )
    host_readable: bool = PField(default=True, description="whether the host may read it")
    guest_readable: bool | None = PField(default=None, description="whether a guest may read it")
    capacity: int | None = PField(
        default=None,
        ge=1,
        le=65536,
        description="array length in the struct when it differs from num_fields",
    )
    count: str | None = PField(
        default=None, description='the field holding the live count of this array, e.g. "NUM_CMRS"'
    )
    gate: GateValue | None = PField(
        default=None, description='read only then: "FIELD.BIT" or { release = "1.5.06" }'
    )
    truncate: bool = PField(default=False, description="allow a member narrower than the element")
    # default_factory, not default={}: pydantic deep-copies a mutable default on every field
    # (a third of validating one); the JSON Schema still says the default is {}
    bits: dict[str, int | BitSpec] = PField(
        default_factory=dict,
        json_schema_extra={"default": {}},
        description='named bits of a flag field: NAME = bit or { bit = N, description = "..." }',
    )
    unverified: str | None = PField(
        default=None, description="why the field is not cross-checked against Intel's JSON"
    )
    overrides: dict[str, OverrideSpec] = PField(
        default_factory=dict,
        json_schema_extra={"default": {}},
        description=(
            'reviewed deviations from Intel\'s JSON, by attribute: { json = ..., reason = "..." }'
        ),
    )


class SchemaSettings(_Strict):
    baseline: str = PField(
        default="1.5.01",
        description="the oldest module release the readers support; newer fields may be absent",
    )


ErrorIdiom = Literal["chain", "return"]

# The kernel's own words, the defaults of a file's banner.
HEADER_BANNER = ["Automatically generated TDX global metadata structures."]
SOURCE_BANNER = [
    "Automatically generated functions to read TDX global metadata.",
    "",
    "This file doesn't compile on its own as it lacks of inclusion",
    "of SEAMCALL wrapper primitive which reads global metadata.",
    "Include this file to other C file instead.",
]


class KernelStructSettings(_Strict):
    """[kernel.struct.NAME]: how one struct's reader looks in the kernel."""

    init: bool | None = PField(default=None, description="__init reader (default: [kernel].init)")
    in_sysinfo: bool = PField(
        default=True,
        description=(
            "a member of struct tdx_sys_info, read by get_tdx_sys_info(); false: read on its own"
        ),
    )
    member: str | None = PField(
        default=None, description="its member in struct tdx_sys_info (default: the struct's name)"
    )
    reader: str | None = PField(
        default=None, description="its reader function (default: get_tdx_sys_info_<name>)"
    )
    errors: ErrorIdiom | None = PField(default=None, description="default: [kernel].errors")


class KernelPrintSettings(_Strict):
    """pr_info() of scalar members after they are read."""

    members: list[str] = PField(description="the members printed, as struct.member")
    prefix: str = PField(default="", description="text before the values")
    format: str = PField(
        default="",
        description="printf conversions, or the name of a macro holding them (TDX_VERSION_FMT)",
    )
    when: Literal["always", "ok"] = PField(
        default="ok",
        description="print even when a read failed (always), or only after success (ok)",
    )


class KernelFileSettings(_Strict):
    banner: list[str] = PField(
        default_factory=lambda: list(SOURCE_BANNER),
        description="the lines of the comment the file starts with, kept as written",
    )


class KernelHeaderSettings(_Strict):
    banner: list[str] = PField(
        default_factory=lambda: list(HEADER_BANNER),
        description="the lines of the comment the file starts with, kept as written",
    )
    guard: str = PField(
        default="_X86_VIRT_TDX_AUTO_GENERATED_TDX_GLOBAL_METADATA_H",
        description="the include guard",
    )
    includes: list[str] = PField(default=["linux/types.h"], description="headers it includes")


class KernelTopSettings(_Strict):
    init: bool | None = PField(
        default=None, description="get_tdx_sys_info() is __init (default: [kernel].init)"
    )


class KernelSettings(_Strict):
    flavor: Flavor = PField(
        default="map",
        description=(
            "kernel C flavour: map (TD_SYSINFO_MAP tables) or functions (one reader per struct)"
        ),
    )
    structs: list[str] = PField(description="the structs of the kernel output, in read order")
    exclude_fields: list[str] = PField(default=[], description="fields the kernel does not read")
    baseline: str | None = PField(
        default=None,
        description=(
            "oldest module release the kernel supports (default: [schema].baseline): "
            "a field it reads without a gate must be in it"
        ),
    )
    init: bool = PField(default=True, description="mark the readers __init")
    errors: ErrorIdiom = PField(
        default="chain",
        description=(
            "chain: if (!ret && !(ret = read(...))) and ret = ret ?: get_...(); return: "
            "if (ret) return ret; after each read"
        ),
    )
    named_ids: bool = PField(default=False, description="emit MD_FIELD_ID_<NAME> defines")
    bit_defines: bool = PField(
        default=False, description="define every named bit the kernel does not define itself"
    )
    struct_comments: bool = PField(
        default=False,
        description="a kernel-doc comment on every struct: its description and each member's",
    )
    provenance: bool = PField(
        default=False, description="banners naming tdx-codegen and the schema files"
    )
    print: list[str] | KernelPrintSettings = PField(
        default=[],
        description="members to pr_info after the read, or {members, prefix, format, when}",
    )
    require_features: list[str] = PField(
        default=[], description="feature bits whose absence fails the read with -EINVAL"
    )
    gate_helpers: dict[str, str] = PField(
        default={},
        description='"FIELD.BIT" = kernel helper the C calls with sysinfo to test that gate',
    )
    header: KernelHeaderSettings = PField(
        default_factory=KernelHeaderSettings,
        description="the header's banner, include guard and includes",
    )
    source: KernelFileSettings = PField(
        default_factory=KernelFileSettings, description="the source's banner"
    )
    top: KernelTopSettings = PField(
        default_factory=KernelTopSettings, description="get_tdx_sys_info()"
    )
    struct: dict[str, KernelStructSettings] = PField(
        default={}, description="per struct: init, errors, member, reader, in_sysinfo"
    )


class OutputSettings(_Strict):
    structs: list[str] = PField(description="the structs of this output, in read order")


class PythonSettings(OutputSettings):
    package: str = PField(default="tdx_metadata", description="the generated Python package's name")


class SettingsSpec(_Strict):
    schema_: SchemaSettings = PField(
        default_factory=SchemaSettings,
        alias="schema",
        description="[schema]: the schema's baseline release",
    )
    kernel: KernelSettings = PField(description="[kernel]: the Linux kernel C output")
    python: PythonSettings = PField(description="[python]: the Python readers")
    docs: OutputSettings = PField(description="[docs]: the Markdown and HTML reference")


def validate(model: type[BaseModel], data) -> tuple[BaseModel | None, list[ErrorDetails]]:
    """Validate data; return (instance, []) or (None, pydantic error dicts)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, exc.errors(include_url=False)


# pydantic names the member of a union (int | BitSpec, str | GateSpec) inside an error's loc
_MEMBERS = {
    "int": "an integer",
    "str": "a string",
    "BitSpec": "a table",
    "GateSpec": "a table",
    "list[str]": "an array of strings",
    "KernelPrintSettings": "a table",
}


def _split(loc) -> tuple[tuple, str | None, tuple]:
    """(key path to a union, the union member, the rest) or (key path, None, ())."""
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "union[")))]
    for n, part in enumerate(parts):
        # only where the schema has a union, so a key the user named "int" stays a key
        if (
            part in _MEMBERS
            and n
            and (
                parts[n - 1] in ("class", "gate", "json", "print")
                or (n >= 2 and parts[n - 2] == "bits")
            )
        ):
            return tuple(parts[:n]), part, tuple(parts[n + 1 :])
    return tuple(parts), None, ()


def problems(
    errors: list[ErrorDetails], model: type[BaseModel]
) -> list[tuple[str, str, tuple, str]]:
    """(rule, message, key path, pydantic error type) for each problem in pydantic's errors.

    A value that fits none of a union's members is one problem ("must be an
    integer or a table"), not one per member; when it is the right kind for
    one member (a table for GateSpec), only that member's complaints are kept.
    """
    out = []
    unions: dict[tuple, list] = {}
    for err in errors:
        keys, member, rest = _split(err["loc"])
        if member is None:
            out.append((*describe_error(err, model, keys), keys, err["type"]))
        else:
            unions.setdefault(keys, []).append((member, rest, err))
    for keys, items in unions.items():
        inner = [(rest, err) for _, rest, err in items if rest]
        for rest, err in inner:
            out.append((*describe_error(err, model, keys + rest), keys + rest, err["type"]))
        if not inner:
            kinds = " or ".join(dict.fromkeys(_MEMBERS[m] for m, _, _ in items))
            name = ".".join(map(str, keys))
            first = items[0][2]
            out.append(
                (
                    "BAD-VALUE",
                    f"'{name}' must be {kinds}, got {_short(first.get('input'))}",
                    keys,
                    first["type"],
                )
            )
    return out


def describe_error(
    err: ErrorDetails, model: type[BaseModel], keys: tuple | None = None
) -> tuple[str, str]:
    """(rule, message) for one pydantic error, in the schema's own words."""
    if keys is None:
        keys = _split(err["loc"])[0]
    name = ".".join(map(str, keys)) or "table"
    kind = err["type"]
    if kind == "missing":
        fields = ", ".join(
            sorted(f.alias or n for n, f in model.model_fields.items() if f.is_required())
        )
        return "MISSING-KEY", f"missing required key '{name}' (required: {fields})"
    if kind == "extra_forbidden":
        known = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
        return "UNKNOWN-KEY", f"unknown key '{name}' (known keys: {known})"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return "BAD-VALUE", f"'{name}' must be one of {expected}, not {_shown(err['input'])}"
    return "BAD-VALUE", f"'{name}': {err['msg'].lower()}, got {_short(err.get('input'))}"


def _shown(value) -> str:
    """repr of a value, cut at 40 characters; a non-ASCII character in a string is named."""
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    odd = chars.first_non_ascii(value) if isinstance(value, str) else None
    return f"{text} ({chars.describe(odd)})" if odd else text


def _short(value) -> str:
    text = _shown(value)
    kind = type(value).__name__
    if isinstance(value, dict):
        kind = "table"
    elif isinstance(value, list):
        kind = "array"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    return f"{kind} {text}"
