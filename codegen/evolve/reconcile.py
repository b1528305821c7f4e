"""Reconcile the schema with one release of Intel's JSON, field by field.

Fields are matched by name, then (for what is left) by (class, field code),
so a rename shows as a name difference rather than as a removal plus an
addition.  Compared per field: id (size code aside), element size, number
of fields, elements per field, and the struct capacity when it deliberately
differs from the module's number of fields (the kernel's CPUID arrays).

A difference is explained when the schema carries an override for that
attribute that records the very value the JSON has; a release that moves
the value again is reported anew.  Schema fields the JSON lacks are
explained when the schema says they came later (since) or are not public
(no since, or unverified).  Anything else is unexplained: exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.abi import fieldid
from codegen.abi.release import Release
from codegen.evolve.intel_json import JsonField, JsonRelease
from codegen.spec.model import Catalogue, Field


@dataclass(frozen=True)
class Difference:
    name: str  # the field (schema name, or the JSON's when only there)
    attribute: str  # "missing-in-json", "missing-in-schema", "name", or an OVERRIDABLE key
    schema: str  # schema value as text ("" when absent)
    json: str
    schema_at: str  # file:line ("" when absent)
    json_at: str
    explained: bool
    why: str  # the override's reason, or why it is (not) explained

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def reconcile(cat: Catalogue, rel: JsonRelease) -> list[Difference]:
    release = _release(rel.version)
    by_name = {f.name: f for f in rel.fields}
    matched: list[tuple[Field, JsonField]] = []
    schema_only: list[Field] = []
    for f in cat.fields:
        j = by_name.pop(f.name, None)
        if j is None:
            schema_only.append(f)
        else:
            matched.append((f, j))
    json_by_key = {j.key: j for j in by_name.values()}
    diffs: list[Difference] = []
    for f in schema_only:
        j = json_by_key.pop(f.key, None)
        if j is not None:
            matched.append((f, j))
            diffs.append(
                Difference(
                    f.name,
                    "name",
                    f.name,
                    j.name,
                    str(f.source),
                    rel.where(j),
                    False,
                    "the JSON names this id differently",
                )
            )
        else:
            diffs.append(_schema_only(f, release))
    for j in json_by_key.values():
        diffs.append(
            Difference(
                j.name,
                "missing-in-schema",
                "",
                fieldid.canonical(j.id),
                "",
                rel.where(j),
                False,
                "the module has a field the schema lacks",
            )
        )
    for f, j in matched:
        diffs.extend(_compare(f, j, rel))
    order = {f.name: f.key for f in cat.fields}
    by_json = {j.name: j.key for j in rel.fields}
    return sorted(diffs, key=lambda d: (order.get(d.name) or by_json.get(d.name), d.attribute))


def unused_overrides(cat: Catalogue, diffs: list[Difference], rel: JsonRelease) -> list[str]:
    """Overrides of attributes on which the JSON agrees with the schema: candidates for removal."""
    used = {(d.name, d.attribute) for d in diffs}
    present = {j.name for j in rel.fields}
    return [
        f"{f.source}: {f.name}: override of {o.key} is not needed for "
        f"{rel.file}, which agrees with the schema"
        for f in cat.fields
        if f.name in present
        for o in f.overrides
        if (f.name, o.key) not in used
    ]


def _release(text: str) -> Release | None:
    try:
        return Release.parse(text.strip())
    except ValueError:
        return None


def _schema_only(f: Field, release: Release | None) -> Difference:
    if f.unverified:
        why, ok = f"unverified: {f.unverified}", True
    elif f.since is None:
        why, ok = "in no public module release", True
    elif release is not None and not f.since.has(release):
        why, ok = f"not in this JSON's release {release}: first in {f.since.describe()}", True
    else:
        why, ok = f"the schema says the module has it since {f.since.describe()}", False
    fid = fieldid.canonical(f.id)
    return Difference(f.name, "missing-in-json", fid, "", str(f.source), "", ok, why)


def _compare(f: Field, j: JsonField, rel: JsonRelease) -> list[Difference]:
    def no_size(i: int) -> int:
        return fieldid.replace(i, ELEMENT_SIZE_CODE=0)

    pairs = [
        ("id", f.id, j.id, no_size(f.id) != no_size(j.id)),
        ("element_size", f.element_size, j.element_size, None),
        ("num_fields", f.num_fields, j.num_fields, None),
        ("num_elements", f.num_elements, j.num_elements, None),
    ]
    if f.capacity != f.num_fields:
        pairs.append(("capacity", f.capacity, j.num_fields, None))
    out = []
    for attr, ours, theirs, differs in pairs:
        if differs is None:
            differs = ours != theirs
        if not differs:
            continue
        text = fieldid.canonical if attr == "id" else str
        o = f.override(attr)
        if o is None:
            ok, why = False, "no override in the schema"
        elif o.json != theirs:
            ok, why = False, f"the override expects the JSON to say {text(o.json)}"
        else:
            ok, why = True, o.reason
        out.append(
            Difference(f.name, attr, text(ours), text(theirs), str(f.source), rel.where(j), ok, why)
        )
    return out


def format_text(diffs: list[Difference], rel: JsonRelease, cat: Catalogue) -> str:
    version = f" (release {rel.version})" if rel.version else ""
    lines = [
        f"reconcile with {rel.file}{version}: {len(cat.fields)} schema fields, "
        f"{len(rel.fields)} JSON fields"
    ]
    for d in diffs:
        verdict = "explained" if d.explained else "UNEXPLAINED"
        where = " / ".join(w for w in (d.schema_at, d.json_at) if w)
        if d.attribute == "missing-in-json":
            what = f"only in the schema ({d.schema})"
        elif d.attribute == "missing-in-schema":
            what = f"only in the JSON ({d.json})"
        else:
            what = f"{d.attribute}: schema {d.schema}, JSON {d.json}"
        lines.append(f"{verdict}: {d.name}: {what} [{where}]: {d.why}")
    bad = sum(not d.explained for d in diffs)
    lines.append(f"{len(diffs)} difference(s): {len(diffs) - bad} explained, {bad} unexplained")
    return "\n".join(lines) + "\n"
