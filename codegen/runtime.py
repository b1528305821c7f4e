"""Runtime of the generated TDX metadata readers (the tdx_metadata package).

The generated package holds the tables (which ids fill which members);
this module holds the one implementation of reading them, by TDH.SYS.RD
element by element or by parsing TDH.SYS.RDALL pages, so both paths share
every rule: gates, live counts, optional fields, masking, errors.

`tdx-codegen build` copies this module, and the codegen.abi modules it
imports, into every generated package as <package>/_runtime/ (imports
made relative), so the readers stand alone: standard library only, and
no typing, collections or dataclasses import, so importing them costs
about as much as starting Python.  A package and its copy agree on ABI;
a package refuses a runtime of another ABI.

Over 400 lines on purpose: it is copied whole into every generated package,
so it stays one module the readers import in one step.
"""

from __future__ import annotations

from codegen.abi import fieldid, rdall_list
from codegen.abi import status as _status
from codegen.abi.release import VERSION_FIELDS, release_code

# What a generated package and this runtime agree on (the Field and Gate rows, Record,
# the reader functions): raised on any change a package generated earlier cannot use.
ABI = 2

RD, RDALL = "TDH.SYS.RD", "TDH.SYS.RDALL"
# Tries of a SEAMCALL answering TDX_RND_NO_ENTROPY (the module ran out of
# random numbers for a moment): the kernel's seamcall wrapper retries it, and
# so do the readers, as many times as the kernel harness (tests/sim/fake_read.c).
SEAMCALL_TRIES = 16


class _Row(tuple):
    """A tuple with named members and defaults: a NamedTuple without importing typing."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for i, name in enumerate(cls._fields):
            setattr(cls, name, property(lambda self, i=i: self[i]))

    def __new__(cls, *args, **kwargs):
        if not kwargs and len(args) == len(cls._fields):  # the generated tables' rows
            return tuple.__new__(cls, args)
        if len(args) > len(cls._fields):
            raise TypeError(f"{cls.__name__} takes {len(cls._fields)} members")
        values = dict(zip(cls._fields, args, strict=False))  # fewer args: kwargs give the rest
        for key, value in kwargs.items():
            if key not in cls._fields or key in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated member '{key}'")
            values[key] = value
        try:
            return tuple.__new__(
                cls, [values[f] if f in values else cls._defaults[f] for f in cls._fields]
            )
        except KeyError as exc:
            raise TypeError(f"{cls.__name__}() is missing member {exc}") from None

    def __repr__(self):
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({inner})"


class Gate(_Row):
    """When a struct or field is read: a feature bit is set, or a minimum release.

    text     as the schema says it: "TDX_FEATURES0.TD_PRESERVING"
    field    feature gate: ABI name of the flag field (None for a release gate)
    bit      feature gate: bit index
    release  release gate: major << 16 | minor << 8 | update
    """

    __slots__ = ()
    _fields = ("text", "field", "bit", "release")
    _defaults = {"field": None, "bit": 0, "release": 0}
    text: str
    field: str | None
    bit: int
    release: int


class Field(_Row):
    """One row of a generated field table.

    name, id        ABI name and base field id, as in the module's table
    member          the record member it fills
    element_size    bytes per element in the module
    num_fields, num_elements    the entry's shape
    capacity        fields the member holds (a live count is bounded by it)
    count           ABI name of the live-count field, or None
    gate            a Gate, or None
    optional        a module of the baseline release may lack it
    member_size     bytes of the C member (values are masked to it)
    """

    __slots__ = ()
    _fields = (
        "name",
        "id",
        "member",
        "element_size",
        "num_fields",
        "num_elements",
        "capacity",
        "count",
        "gate",
        "optional",
        "member_size",
    )
    name: str
    id: int
    member: str
    element_size: int
    num_fields: int
    num_elements: int
    capacity: int
    count: str | None  # type: ignore[assignment]  # the member shadows tuple.count on purpose
    gate: Gate | None
    optional: bool
    member_size: int


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

    What @dataclass(frozen=True) gives (keyword or positional construction
    with a real signature, ==, hash, repr, match, and the dataclasses
    module's functions through a lazy __dataclass_fields__) without running
    it at import: sixteen frozen dataclasses cost about 20 ms to create,
    this costs nothing.  Members are the class's annotations, in order; the
    generated classes define __init__ with one parameter per member.

    repr shows integers of 10 and more in hex (still valid Python); hash()
    hashes the members with lists as tuples, so equal records hash equal.
    """

    _members: tuple[str, ...] = ()  # member names, set per subclass from its own annotations
    __dataclass_fields__ = _DataclassFields()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._members = tuple(cls.__annotations__)
        cls.__match_args__ = cls._members  # type: ignore[misc]  # per class, as @dataclass sets it

    def __init__(self, *args, **kwargs):
        name, members = type(self).__name__, self._members
        if len(args) > len(members):
            raise TypeError(f"{name}() takes {len(members)} members, {len(args)} given")
        values = dict(zip(members, args, strict=False))  # fewer args: kwargs give the rest
        for key, value in kwargs.items():
            if key not in members or key in values:
                raise TypeError(f"{name}() got an unexpected or repeated member '{key}'")
            values[key] = value
        missing = [m for m in members if m not in values]
        if missing:
            raise TypeError(f"{name}() is missing member(s) {', '.join(missing)}")
        self.__dict__.update(values)

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
        return hash(_frozen(self.astuple()))

    def __repr__(self):
        inner = ", ".join(f"{m}={_shown(getattr(self, m))}" for m in self._members)
        return f"{type(self).__name__}({inner})"

    def as_dict(self) -> dict:
        """Members as a dict, nested structs as dicts (ready for json.dumps)."""
        return {m: _plain(getattr(self, m)) for m in self._members}


def init(record: Record, values: tuple) -> None:
    """Set a new record's members (what the generated __init__ methods call)."""
    record.__dict__.update(zip(record._members, values, strict=True))


def _plain(value):
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _frozen(value):
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _shown(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, list):
            return "[" + ", ".join(_shown(v) for v in value) + "]"
        if isinstance(value, tuple):
            return (
                "(" + ", ".join(_shown(v) for v in value) + ("," if len(value) == 1 else "") + ")"
            )
        return repr(value)
    return f"{value:#x}" if value >= 10 else str(value)


def diff(old, new, path: str = "") -> list[tuple[str, object, object]]:
    """(member path, old value, new value) for every member that differs, in member order.

    Records are compared member by member ("version.minor_version"), lists
    element by element ("cmr.cmr_base[2]"; None for an element one side
    lacks), everything else as a whole.
    """
    if isinstance(old, Record) and type(old) is type(new):
        out = []
        for m in old._members:
            out.extend(diff(getattr(old, m), getattr(new, m), f"{path}.{m}" if path else m))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(max(len(old), len(new))):
            a = old[i] if i < len(old) else None
            b = new[i] if i < len(new) else None
            out.extend(diff(a, b, f"{path}[{i}]"))
        return out
    return [] if old == new else [(path, old, new)]


# -- errors ------------------------------------------------------------------


class MetadataError(Exception):
    """Reading TDX global metadata failed."""


class SeamcallError(MetadataError):
    """A SEAMCALL answered an error status while reading a field."""

    def __init__(self, leaf: str, status: int, field: str, field_id: int, detail: str = ""):
        self.leaf, self.status, self.field, self.field_id = leaf, status, field, field_id
        self.status_name = _status.name(status)
        super().__init__(
            f"{leaf} reading {field} ({fieldid.canonical(field_id)}) failed: "
            f"{self.status_name} ({status:#018x}){detail}"
        )


class CountError(MetadataError):
    """A live count exceeds the array that holds it (the kernel's -EINVAL)."""

    def __init__(self, field: str, count_field: str, count: int, capacity: int):
        self.field, self.count_field = field, count_field
        self.count, self.capacity = count, capacity
        super().__init__(f"{count_field} = {count} exceeds the capacity of {field} ({capacity})")


class ListError(MetadataError):
    """A TDH.SYS.RDALL list that cannot be parsed or does not progress."""


def require(abi: int, package: str) -> None:
    """Refuse to run generated readers against a runtime of another ABI."""
    if abi != ABI:
        raise ImportError(
            f"{package} needs runtime ABI {abi} but its runtime has ABI {ABI}; "
            "regenerate the package with 'tdx-codegen build'"
        )


# -- sources -----------------------------------------------------------------


def seamcall(leaf_fn, field_id: int) -> tuple:
    """leaf_fn(field_id), retried while it answers TDX_RND_NO_ENTROPY (SEAMCALL_TRIES in all)."""
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
        rows: list[int] | list[tuple[int, ...]] = values
        if per > 1:
            rows = [tuple(values[i : i + per]) for i in range(0, n * per, per)]
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
        self.values_at: dict[tuple[int, int], int] = {}  # (class, field code) -> value
        start = fieldid.NULL_ID
        while True:
            st, next_id, page = seamcall(backend.rdall, start)
            if st not in (_status.TDX_SUCCESS, _status.TDX_METADATA_LIST_OVERFLOW):
                raise SeamcallError(RDALL, st, self._name_at(start), start)
            try:
                sequences = rdall_list.parse(page)
            except rdall_list.ListFormatError as exc:
                where = f"{self._name_at(start)} ({fieldid.canonical(start)})"
                raise ListError(f"{RDALL} page starting at {where}: {exc}") from None
            for seq in sequences:  # element i of a sequence has field code first + i
                cc, fc = seq.class_code, seq.field_code
                self.values_at.update(
                    zip([(cc, fc + i) for i in range(len(seq.values))], seq.values, strict=True)
                )
            if st == _status.TDX_SUCCESS:
                break
            if not sequences or next_id == start:
                raise ListError(
                    f"{RDALL} answered TDX_METADATA_LIST_OVERFLOW at "
                    f"{fieldid.canonical(start)} without progress (next id "
                    f"{fieldid.canonical(next_id)})"
                )
            start = next_id

    def _name_at(self, field_id: int) -> str:
        """Name of the field a start id points into, for error messages."""
        if field_id == fieldid.NULL_ID:
            return "the first field"
        table = sorted(self.fields.values(), key=lambda f: fieldid.key(f.id))
        found = fieldid.find_entry(
            [fieldid.key(f.id) for f in table],
            [f.num_fields * f.num_elements for f in table],
            field_id,
        )
        return "an unknown field" if found is None else table[found[0]].name

    def element(self, f: Field, index: int) -> int | None:
        class_code, field_code = fieldid.key(f.id)
        value = self.values_at.get((class_code, field_code + index))
        if value is None and not f.optional:
            fid = fieldid.element_id(f.id, index)
            raise SeamcallError(
                RDALL,
                _status.TDX_METADATA_FIELD_ID_INCORRECT,
                f.name,
                fid,
                "; the field is missing from the list",
            )
        return value

    def elements(self, f: Field, count: int) -> list[int] | None:
        class_code, field_code = fieldid.key(f.id)
        get = self.values_at.get
        got = [get((class_code, field_code + i)) for i in range(count)]
        out = [v for v in got if v is not None]
        if len(out) < count:  # a missing element: absent, or the error element() reports
            if not f.optional:
                for i in range(count):
                    self.element(f, i)  # raises at the first missing element
            return None
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


# -- a simulated module --------------------------------------------------------


def simulator(profile: str, schema=None, **state):
    """A simulated TDX module of a value profile: a backend for read_all_rd/read_all_rdall.

    Needs tdx-codegen installed: the simulator is part of the tool, the
    readers are not.  profile is a name ("2.0.08") or a profile file;
    schema is the schema directory the readers were generated from,
    by default the project around the current directory, else the
    catalogue tdx-codegen ships.  state: lp_init=False, shutdown=True.
    """
    try:
        from codegen import project
        from codegen.paths import builtin_schema
        from codegen.sim.profile import load_profile, resolve
        from codegen.sim.simulator import Simulator
        from codegen.spec.compiler import compile_or_raise
    except ImportError as exc:
        raise ImportError(
            "simulator() needs tdx-codegen installed (pip install tdx-codegen); "
            "the readers themselves need only the standard library"
        ) from exc
    if schema is None:
        try:
            schema = project.find().schema
        except project.ProjectError:
            schema = builtin_schema()
    catalogue = compile_or_raise(schema)
    return Simulator(load_profile(resolve(profile, schema), catalogue), **state)
