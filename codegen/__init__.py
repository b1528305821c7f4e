"""tdx-codegen: schema compiler, code generator and simulator for TDX global metadata.

Kept import-free: the generated Python readers import codegen.runtime and
must stay cheap, so nothing heavy (pydantic, jinja2) is imported here.
"""

__version__ = "0.1.0"
