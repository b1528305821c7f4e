"""CI annotations: GitHub Actions workflow commands (`--format github`).

    ::error file=schema/11-tdmr-info.toml,line=16,col=6,title=ID-SIZE-MISMATCH::id ... but ...

GitHub shows each as an annotation on that line of the pull request; paths
are as the tool shows them (relative to the current directory, which in a
workflow is the repository's root).  Escaping follows GitHub's rules for
workflow command data and properties.
"""

from __future__ import annotations


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def command(
    level: str, message: str, file: str = "", line: int = 0, col: int = 0, title: str = ""
) -> str:
    """One workflow command line: level is error, warning or notice."""
    props = [f"file={_prop(file)}"] if file else []
    if file and line:
        props.append(f"line={line}")
        if col:
            props.append(f"col={col}")
    if title:
        props.append(f"title={_prop(title)}")
    return (
        f"::{level} {','.join(props)}::{_data(message)}\n"
        if props
        else f"::{level}::{_data(message)}\n"
    )


def diagnostics(diags) -> str:
    """Every diagnostic as an annotation; notes are appended to the message."""
    out = []
    for d in diags:
        message = d.message + "".join(
            f"\nnote: {n.message}" + (f" ({n.loc})" if n.loc else "") for n in d.notes
        )
        out.append(
            command(
                "error" if d.severity == "error" else "warning",
                message,
                d.loc.file,
                d.loc.line,
                d.loc.col,
                d.rule,
            )
        )
    return "".join(out)


def location(where: str) -> tuple[str, int]:
    """'file:line' (as compat writes it, perhaps after REV:) -> (file, line)."""
    file, _, line = where.rpartition(":")
    if not line.isdigit():
        return where, 0
    rev, sep, rest = file.partition(":")
    return (rest if sep and "/" not in rev else file), int(line)
