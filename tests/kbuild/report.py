"""The kbuild, sparse and checkpatch figures of tests/test_kbuild.py, as a table.

    python tests/kbuild/report.py

For each flavour x settings: warning and error lines of `make W=1` and of `make C=2 W=1`
(compiler and sparse), modpost section mismatches, and checkpatch.pl --strict errors/warnings/
checks on the patch and on each file; then every line behind a non-zero figure.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbuild import harness

BUILDS = (("W=1",), ("C=2", "W=1"))


def main() -> int:
    try:
        kernel = harness.kernel_tree()
    except BaseException as exc:  # pytest's skip and fail outcomes carry the reason
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(
        f"tree: {kernel}\nbuild: make -C TREE M=MODULE ARGS KBUILD_MODPOST_WARN=1 modules\n"
        "checkpatch: TREE/scripts/checkpatch.pl --root=SMALL_TREE --strict PATCH | -f FILE\n"
    )
    print(
        f"{'case':<24}{'W=1':>5}{'C=2 W=1':>9}{'mismatch':>10}   patch E/W/C   .c E/W/C   .h E/W/C"
    )
    details = []
    with tempfile.TemporaryDirectory() as tmp:
        for flavor, settings in harness.CASES:
            name = f"{flavor}-{settings}"
            case = harness.Case(kernel, Path(tmp) / name, flavor, settings)
            counts, mismatches = [], 0
            for args in BUILDS:
                mod = harness.module_dir(
                    case.tmp / f"module-{'-'.join(args)}", case.header, case.source, kernel
                )
                build = harness.make(kernel, mod, *args)
                counts.append(len(build.diagnostics))
                mismatches += len(build.mismatches)
                details += [
                    f"{name} {' '.join(args)}: {x}" for x in build.diagnostics + build.mismatches
                ]
            runs = [
                harness.checkpatch(kernel, case.tree, "--strict", str(case.patch)),
                harness.checkpatch(
                    kernel, case.tree, "--strict", "-f", harness.SOURCE, harness.HEADER
                ),
            ]
            totals = [t for run in runs for t in run.totals]
            details += [f"{name} checkpatch: {x}" for run in runs for x in run.problems]
            print(
                f"{name:<24}{counts[0]:>5}{counts[1]:>9}{mismatches:>10}"
                + "".join(f"{'/'.join(map(str, t)):>11}" for t in totals)
            )
    if details:
        print()
        print("\n".join(details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
