"""Emitters: validated Catalogue -> generated files.

One module per output, each with `emit(ctx) -> list[Output]`.  They see
only the Catalogue (never TOML) and render through Jinja2 templates in
templates/ (the kernel C is written by codegen.emitters.c_writer).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from codegen import __version__
from codegen.spec.model import Catalogue

# Output name -> module; the order is the order files are produced.
EMITTERS = {
    "kernel": "codegen.emitters.kernel_c",
    "python": "codegen.emitters.python_readers",
    "docs": "codegen.emitters.docs",
    "json-schema": "codegen.emitters.json_schema",
    "rules": "codegen.emitters.rules_docs",
}

REGENERATE = "tdx-codegen build"


@dataclass(frozen=True)
class EmitContext:
    catalogue: Catalogue
    kernel_flavor: str  # effective flavour (settings or --c-flavor)
    generator_version: str = __version__
    regenerate: str = REGENERATE
    # what the target kernel tree defines: ((name, (value, "file:line")), ...)
    kernel_names: tuple = ()


def available() -> dict[str, ModuleType]:
    """Emitter modules that exist in this tree (outputs land one issue at a time)."""
    found: dict[str, ModuleType] = {}
    for name, module in EMITTERS.items():
        try:
            found[name] = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return found


def emit_all(ctx: EmitContext, only: tuple[str, ...] = ()) -> list:
    outputs = []
    for name, module in available().items():
        if not only or name in only:
            outputs.extend(module.emit(ctx))
    return outputs
