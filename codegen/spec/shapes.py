"""The shape of schema files, checked by pydantic.

These models say which keys exist and what type each holds; nothing here
looks across entries (that is codegen.rules).  Each [[field]], [[struct]]
and [class] table is validated on its own so one bad entry does not hide
the problems of the others.
"""

from __future__ import annotations

import os
from typing import Literal, Union

# tdx-codegen uses no pydantic plugin; without this, pydantic's plugin loader reads the
# entry points of every installed distribution on the first validation (about a fifth
# of a cold build).  setdefault: a user who does want plugins can still say so.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import BaseModel, ConfigDict, Field as PField, ValidationError

CType = Literal["u8", "u16", "u32", "u64"]
Flavor = Literal["map", "functions"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class BitSpec(_Strict):
    bit: int = PField(ge=0, le=63)
    description: str = ""


class GateSpec(_Strict):
    """Read only when a feature bit is set, or only from a module release on."""
    feature: str | None = None     # "TDX_FEATURES0.TD_PRESERVING"
    release: str | None = None     # "1.5.06"


GateValue = Union[str, GateSpec]


class OverrideSpec(_Strict):
    """A reviewed deviation from Intel's JSON: what the JSON says, and why the schema differs."""
    json_: int | str = PField(alias="json")   # the JSON's value (an id as a hex string)
    reason: str


class ClassSpec(_Strict):
    code: int = PField(ge=0, le=63)
    name: str
    description: str = ""


class StructSpec(_Strict):
    name: str                       # member name in struct tdx_sys_info
    c_name: str                     # C struct tag
    description: str
    gate: GateValue | None = None


class FieldSpec(_Strict):
    name: str
    id: str
    class_: int | str = PField(alias="class")
    element_size: Literal[1, 2, 4, 8]
    num_fields: int = PField(default=1, ge=1, le=512)
    num_elements: int = PField(default=1, ge=1, le=16)
    struct: str
    member: str
    type: CType
    description: str
    since: str | None = None
    host_readable: bool = True
    guest_readable: bool | None = None
    capacity: int | None = PField(default=None, ge=1, le=65536)
    count: str | None = None
    gate: GateValue | None = None
    truncate: bool = False
    bits: dict[str, int | BitSpec] = {}
    unverified: str | None = None
    overrides: dict[str, OverrideSpec] = {}


class SchemaSettings(_Strict):
    baseline: str = "1.5.01"


class KernelSettings(_Strict):
    flavor: Flavor = "map"
    structs: list[str]
    exclude_fields: list[str] = []
    init: bool = True
    named_ids: bool = True
    print: list[str] = []
    require_features: list[str] = []


class OutputSettings(_Strict):
    structs: list[str]


class PythonSettings(OutputSettings):
    package: str = "tdx_metadata"


class SettingsSpec(_Strict):
    schema_: SchemaSettings = PField(default_factory=SchemaSettings, alias="schema")
    kernel: KernelSettings
    python: PythonSettings
    docs: OutputSettings


def validate(model: type[BaseModel], data) -> tuple[BaseModel | None, list[dict]]:
    """Validate data; return (instance, []) or (None, pydantic error dicts)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, exc.errors(include_url=False)


def describe_error(err: dict, model: type[BaseModel]) -> tuple[str, str]:
    """(rule, message) for one pydantic error, in the schema's own words."""
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "union["))]
    # pydantic reports union members (str / GateSpec, int / BitSpec) as path parts
    loc = [p for p in loc if p not in ("str", "int", "GateSpec", "BitSpec")]
    name = ".".join(loc) or "table"
    kind = err["type"]
    if kind == "missing":
        fields = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items() if f.is_required()))
        return "MISSING-KEY", f"missing required key '{name}' (required: {fields})"
    if kind == "extra_forbidden":
        known = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
        return "UNKNOWN-KEY", f"unknown key '{name}' (known keys: {known})"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return "BAD-VALUE", f"'{name}' must be one of {expected}, not {err['input']!r}"
    return "BAD-VALUE", f"'{name}': {err['msg'].lower()}, got {_short(err.get('input'))}"


def _short(value) -> str:
    text = repr(value)
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
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
