"""Runtime of the generated TDX metadata readers (the tdx_metadata package).

The generated package holds the tables (which ids fill which members);
this module holds the one implementation of reading them, by TDH.SYS.RD
element by element or by parsing TDH.SYS.RDALL pages, so both paths share
every rule: gates, live counts, optional fields, masking, errors.
Standard library only (plus codegen's own stdlib-only codecs), so
importing the readers stays cheap.
"""

from __future__ import annotations

from typing import NamedTuple

from codegen import __version__ as VERSION
from codegen.abi import fieldid
from codegen.abi import rdall_list
from codegen.abi import status as _status

from codegen.abi.release import VERSION_FIELDS, release_code  # noqa: F401  (the readers use both)

RD, RDALL = "TDH.SYS.RD", "TDH.SYS.RDALL"
# Tries of a SEAMCALL answering TDX_RND_NO_ENTROPY (the module ran out of
# random numbers for a moment): the kernel's seamcall wrapper retries it, and
# so do the readers, as many times as the kernel harness (tests/sim/fake_read.c).
SEAMCALL_TRIES = 16


class Gate(NamedTuple):
    """When a struct or field is read: a feature bit is set, or a minimum release."""
    text: str                 # as the schema says it: "TDX_FEATURES0.TD_PRESERVING"
    field: str | None = None  # feature gate: ABI name of the flag field
    bit: int = 0              # feature gate: bit index
    release: int = 0          # release gate: major << 16 | minor << 8 | update


class Field(NamedTuple):
    """One row of a generated field table."""
    name: str                 # ABI name
    id: int                   # base field id, as in the module's table
    member: str               # dataclass member it fills
    element_size: int         # bytes per element in the module
    num_fields: int           # fields of the entry (module table)
    num_elements: int         # elements per field
    capacity: int             # fields the member holds (live count is bounded by it)
    count: str | None         # ABI name of the live-count field
    gate: Gate | None
    optional: bool            # a module of the baseline release may lack it
    member_size: int          # bytes of the C member (values are masked to it)


# -- structs -----------------------------------------------------------------

class _DataclassFields:
    """__dataclass_fields__, built on first use (imports dataclasses only then).

    With it, dataclasses.is_dataclass(), fields(), asdict(), astuple() and
    replace() accept the generated records as the frozen dataclasses they
    stand for, while importing the readers never runs the dataclasses
    machinery (measured: import 1.08x `python -c pass` against 1.54x).
    """

    def __get__(self, obj, cls):
        cache = cls.__dict__.get("_dc_fields")
        if cache is None:
            import dataclasses

            cache = {}
            for name in cls._members:
                f = dataclasses.field()
                f.name, f.type = name, cls.__annotations__[name]
                f._field_type = dataclasses._FIELD  # what @dataclass sets on a plain field
                cache[name] = f
            cls._dc_fields = cache
        return cache


class Record:
    """Base of the generated struct classes: frozen dataclasses, without the import cost.

    What @dataclass(frozen=True) gives (keyword or positional construction,
    ==, hash, repr, match, and the dataclasses module's functions through
    a lazy __dataclass_fields__) without running it at import: sixteen
    frozen dataclasses cost about 20 ms to create, this costs nothing.
    Members are the class's annotations, in order.
    """

    _members = ()  # member names, set per subclass from its own annotations
    __dataclass_fields__ = _DataclassFields()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._members = tuple(cls.__annotations__)
        cls.__match_args__ = cls._members

    def __init__(self, *args, **kwargs):
        name, members = type(self).__name__, self._members
        if len(args) > len(members):
            raise TypeError(f"{name}() takes {len(members)} members, {len(args)} given")
        values = dict(zip(members, args))
        for key, value in kwargs.items():
            if key not in members or key in values:
                raise TypeError(f"{name}() got an unexpected or repeated member '{key}'")
            values[key] = value
        missing = [m for m in members if m not in values]
        if missing:
            raise TypeError(f"{name}() is missing member(s) {', '.join(missing)}")
        for m in members:
            object.__setattr__(self, m, values[m])

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set '{key}'")

    def __delattr__(self, key):
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete '{key}'")

    def astuple(self) -> tuple:
        return tuple(getattr(self, m) for m in self._members)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.astuple() == other.astuple()

    def __hash__(self):
        return hash(self.astuple())

    def __repr__(self):
        inner = ", ".join(f"{m}={getattr(self, m)!r}" for m in self._members)
        return f"{type(self).__name__}({inner})"

    def as_dict(self) -> dict:
        """Members as a dict, nested structs as dicts (ready for json.dumps)."""
        return {m: _plain(getattr(self, m)) for m in self._members}


def _plain(value):
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- errors ------------------------------------------------------------------

class MetadataError(Exception):
    """Reading TDX global metadata failed."""


class SeamcallError(MetadataError):
    """A SEAMCALL answered an error status while reading a field."""

    def __init__(self, leaf: str, status: int, field: str, field_id: int, detail: str = ""):
        self.leaf, self.status, self.field, self.field_id = leaf, status, field, field_id
        self.status_name = _status.name(status)
        super().__init__(f"{leaf} reading {field} ({fieldid.fmt(field_id)}) failed: "
                         f"{self.status_name} ({status:#018x}){detail}")


class CountError(MetadataError):
    """A live count exceeds the array that holds it (the kernel's -EINVAL)."""

    def __init__(self, field: str, count_field: str, count: int, capacity: int):
        self.field, self.count_field = field, count_field
        self.count, self.capacity = count, capacity
        super().__init__(f"{count_field} = {count} exceeds the capacity of {field} ({capacity})")


class ListError(MetadataError):
    """A TDH.SYS.RDALL list that cannot be parsed or does not progress."""


def require(generator_version: str, package: str) -> None:
    """Refuse to run generated readers against a different runtime."""
    if generator_version != VERSION:
        raise ImportError(f"{package} was generated by tdx-codegen {generator_version} but the "
                          f"installed codegen runtime is {VERSION}; regenerate it with "
                          "'tdx-codegen build' or install the matching tdx-codegen")


# -- sources -----------------------------------------------------------------

def seamcall(leaf_fn, field_id: int) -> tuple:
    """leaf_fn(field_id), tried again while it answers TDX_RND_NO_ENTROPY (SEAMCALL_TRIES in all)."""
    for _ in range(SEAMCALL_TRIES):
        result = leaf_fn(field_id)
        if result[0] != _status.TDX_RND_NO_ENTROPY:
            break
    return result


class Source:
    """One snapshot of a module's global metadata, read field by field.

    Values are read once and kept, so gates and counts needed by later
    structs are not read again; use a fresh source for a fresh snapshot.
    """

    def __init__(self, fields: dict[str, Field]):
        self.fields = fields
        self._values: dict[str, object] = {}

    def element(self, f: Field, index: int) -> int | None:
        """Element `index` of f (field * num_elements + element); None when absent."""
        raise NotImplementedError

    def value(self, f: Field):
        if f.name not in self._values:
            self._values[f.name] = self._read(f)
        return self._values[f.name]

    def gate_open(self, gate: Gate | None) -> bool:
        if gate is None:
            return True
        if gate.field is not None:
            flags = self.value(self.fields[gate.field])
            return flags is not None and bool(flags >> gate.bit & 1)
        parts = [self.value(self.fields[n]) for n in VERSION_FIELDS]
        return None not in parts and release_code(*parts) >= gate.release

    def _read(self, f: Field):
        if not self.gate_open(f.gate):
            return None
        if f.count is None:
            n = f.num_fields
        else:
            n = self.value(self.fields[f.count])
            if n is None:
                return None
            if n > f.capacity:
                raise CountError(f.name, f.count, n, f.capacity)
        mask = (1 << 8 * min(f.element_size, f.member_size)) - 1
        per = f.num_elements
        values = self.elements(f, n * per)
        if values is None:
            return None
        values = [v & mask for v in values]
        rows = values if per == 1 else [tuple(values[i:i + per]) for i in range(0, n * per, per)]
        return rows if f.num_fields > 1 else rows[0]

    def elements(self, f: Field, count: int) -> list[int] | None:
        """The first `count` elements of f in order; None when f is absent."""
        out = []
        for index in range(count):
            v = self.element(f, index)
            if v is None:
                return None
            out.append(v)
        return out


class RdSource(Source):
    """Reads each element with TDH.SYS.RD: backend.rd(id) -> (status, next_id, value)."""

    def __init__(self, backend, fields: dict[str, Field]):
        super().__init__(fields)
        self.backend = backend

    def element(self, f: Field, index: int) -> int | None:
        fid = fieldid.element_id(f.id, index)
        st, _next, value = seamcall(self.backend.rd, fid)
        if st == _status.TDX_SUCCESS:
            return value
        if st == _status.TDX_METADATA_FIELD_ID_INCORRECT and f.optional:
            return None
        raise SeamcallError(RD, st, f.name, fid)


class RdallSource(Source):
    """Parses the TDH.SYS.RDALL list: backend.rdall(id) -> (status, next_id, page).

    Pages are fetched up front, following next_id while the module answers
    TDX_METADATA_LIST_OVERFLOW, and parsed by their sequence headers.
    """

    def __init__(self, backend, fields: dict[str, Field]):
        super().__init__(fields)
        self.values_at: dict[tuple[int, int], int] = {}   # (class, field code) -> value
        start = fieldid.NULL_ID
        while True:
            st, next_id, page = seamcall(backend.rdall, start)
            if st not in (_status.TDX_SUCCESS, _status.TDX_METADATA_LIST_OVERFLOW):
                raise SeamcallError(RDALL, st, self._name_at(start), start)
            try:
                sequences = rdall_list.parse(page)
            except rdall_list.ListFormatError as exc:
                raise ListError(f"{RDALL} page starting at {self._name_at(start)} "
                                f"({fieldid.fmt(start)}): {exc}") from None
            for seq in sequences:  # element i of a sequence has field code first + i
                cc, fc = seq.class_code, seq.field_code
                self.values_at.update(zip([(cc, fc + i) for i in range(len(seq.values))],
                                          seq.values))
            if st == _status.TDX_SUCCESS:
                break
            if not sequences or next_id == start:
                raise ListError(f"{RDALL} answered TDX_METADATA_LIST_OVERFLOW at "
                                f"{fieldid.fmt(start)} without progress (next id "
                                f"{fieldid.fmt(next_id)})")
            start = next_id

    def _name_at(self, field_id: int) -> str:
        """Name of the field a start id points into, for error messages."""
        if field_id == fieldid.NULL_ID:
            return "the first field"
        table = sorted(self.fields.values(), key=lambda f: fieldid.key(f.id))
        found = fieldid.find_entry([fieldid.key(f.id) for f in table],
                                   [f.num_fields * f.num_elements for f in table], field_id)
        return "an unknown field" if found is None else table[found[0]].name

    def element(self, f: Field, index: int) -> int | None:
        class_code, field_code = fieldid.key(f.id)
        value = self.values_at.get((class_code, field_code + index))
        if value is None and not f.optional:
            fid = fieldid.element_id(f.id, index)
            raise SeamcallError(RDALL, _status.TDX_METADATA_FIELD_ID_INCORRECT, f.name, fid,
                                "; the field is missing from the list")
        return value

    def elements(self, f: Field, count: int) -> list[int] | None:
        class_code, field_code = fieldid.key(f.id)
        get = self.values_at.get
        out = [get((class_code, field_code + i)) for i in range(count)]
        if None in out:  # a missing element: absent, or the error element() reports
            return None if f.optional else [self.element(f, i) for i in range(count)]
        return out


def as_source(backend_or_source, fields: dict[str, Field]) -> Source:
    """A Source as given, or TDH.SYS.RD reads through a backend."""
    if isinstance(backend_or_source, Source):
        return backend_or_source
    return RdSource(backend_or_source, fields)


def read_struct(source: Source, cls, table: tuple[Field, ...], gate: Gate | None):
    """An instance of cls from its field table, or None when its gate is closed."""
    if not source.gate_open(gate):
        return None
    return cls(*[source.value(f) for f in table])


# -- named bits --------------------------------------------------------------

def has_bit(bits: dict[str, dict[str, int]], value: int | None, name: str) -> bool:
    """Whether bit "FIELD.BIT" is set in value (False when value is None)."""
    field, _, bit = name.partition(".")
    try:
        index = bits[field][bit]
    except KeyError:
        known = ", ".join(f"{f}.{b}" for f in sorted(bits) for b in bits[f]) or "none"
        raise KeyError(f"no named bit '{name}' (known: {known})") from None
    return value is not None and bool(value >> index & 1)


def set_bits(bits: dict[str, int], value: int | None) -> list[str]:
    """Names of the named bits set in value, lowest bit first."""
    if value is None:
        return []
    return [n for n, i in sorted(bits.items(), key=lambda kv: kv[1]) if value >> i & 1]
