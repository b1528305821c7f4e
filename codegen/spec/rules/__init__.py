"""The schema's rules: each declared once, and the checks that apply them.

A rule has a name (the part in error[NAME]), a severity, a one-line
summary and, where one applies, the ABI fact it enforces.  Every diagnostic
is reported under a registered rule (codegen.spec.diagnostics.Reporter
refuses any other), and docs/rules.md is generated from REGISTRY.

Modules by concern, each declaring its RULES beside the checks:

    files     loading: TOML, keys and value types (checked in compiler and shapes)
    names     identifiers and text, against codegen.spec.names
    ids       classes and field ids
    sizes     shapes, capacities, member types, bits, overrides
    structs   structs, members and live counts
    gates     feature and release gates
    settings  settings.toml
    profiles  simulator profiles and replays (checked in codegen.sim.profile)

check() runs them: per-entry checks first, each reporting every problem of
its entry (a check that needs a valid id or member skips only itself), then
whole-schema checks; codegen.spec.elaborate builds the Catalogue from what
passed.  Rules run in linear time (dictionaries, one sorted pass for ranges).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str  # "error" or "warning"
    summary: str  # what the rule requires, one line
    abi: str = ""  # the TDX ABI fact it enforces, where one applies


def error(name: str, summary: str, abi: str = "") -> Rule:
    return Rule(name, "error", summary, abi)


def warning(name: str, summary: str, abi: str = "") -> Rule:
    return Rule(name, "warning", summary, abi)


# The modules that declare rules, in the order docs/rules.md lists them.
CONCERNS = ("files", "names", "ids", "sizes", "structs", "gates", "settings", "profiles")


def _registry() -> dict[str, Rule]:
    import importlib

    out: dict[str, Rule] = {}
    for concern in CONCERNS:
        for rule in importlib.import_module(f"codegen.spec.rules.{concern}").RULES:
            if rule.name in out:
                raise ValueError(f"rule {rule.name} is declared twice")
            out[rule.name] = rule
    return out


REGISTRY: dict[str, Rule] = _registry()


def check(loaded, rep):
    """Every rule over a loaded schema: the Catalogue, or None when any error was reported."""
    from codegen.spec.rules.driver import run

    return run(loaded, rep)
