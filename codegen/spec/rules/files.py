"""Loading: the schema directory, TOML syntax, keys and value types.

Checked while reading (codegen.spec.compiler, codegen.spec.shapes), before
any other rule; declared here with the rest.
"""

from codegen.spec.rules import error, warning

RULES = (
    error("NO-SCHEMA", "The schema directory exists and holds `*.toml` class files."),
    error("SETTINGS-MISSING", "The schema directory has a `settings.toml`."),
    error("READ-ERROR", "Every schema file can be read."),
    error(
        "FILE-NAME",
        "Schema and profile file names are printable UTF-8: the generated files name them.",
    ),
    error("TOML-SYNTAX", "Every schema file is valid TOML 1.0."),
    warning("FILE-EMPTY", "Every class file declares a `[class]`, `[[struct]]` or `[[field]]`."),
    error("UNKNOWN-KEY", "Every key and table is one the schema defines."),
    error("MISSING-KEY", "Every required key of a table is given."),
    error("BAD-VALUE", "Every value has its key's type and lies in its range."),
)
