"""tdx-codegen as a user installs it: sdist -> wheel -> a fresh venv, then a project of their own.

One wheel and one venv per test session (built in the session fixture): the
venv has no system site-packages, as pipx makes it; its dependencies
(pyproject.toml's and theirs) are linked from this interpreter's, so the
test needs no network, and the tool itself comes only from the wheel.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def sh(*argv, cwd=None, env=None, check=True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, env=env)
    if check and p.returncode:
        raise AssertionError(f"{argv} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def build_wheel(source: Path, dest: Path) -> Path:
    """pip wheel, offline when this setuptools is new enough for pyproject's license string."""
    import setuptools

    isolated = int(setuptools.__version__.split(".")[0]) < 77
    sh(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        dest,
        *([] if isolated else ["--no-build-isolation"]),
        source,
    )
    [wheel] = dest.glob("*.whl")
    return wheel


def dependency_dir(dest: Path) -> Path:
    """tdx-codegen's run-time dependencies, linked from this interpreter (nothing else)."""
    from pip._vendor.packaging.requirements import Requirement

    dest.mkdir()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo, done = [Requirement(r).name for r in project["dependencies"]], set()
    while todo:
        name = todo.pop()
        if name.lower() in done:
            continue
        done.add(name.lower())
        dist = metadata.distribution(name)
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            if not (dest / top).exists() and (base / top).exists():
                (dest / top).symlink_to(base / top)
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return dest


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """(venv, wheel): the wheel built from the sdist, installed into a fresh venv."""
    from setuptools import build_meta

    tmp = tmp_path_factory.mktemp("install")
    # setuptools builds the sdist in ROOT (its egg-info and a release tree beside it):
    # one xdist worker at a time, or two builds delete each other's files
    lock = tmp_path_factory.getbasetemp().parent / "tdx-codegen-sdist.lock"
    cwd = os.getcwd()
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        os.chdir(ROOT)
        try:
            sdist = tmp / build_meta.build_sdist(str(tmp))
        finally:
            os.chdir(cwd)
    with tarfile.open(sdist) as tar:
        tar.extractall(
            tmp / "src", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {})
        )
    [src] = (tmp / "src").iterdir()
    wheel = build_wheel(src, tmp / "dist")
    venv = tmp / "venv"
    # no pip of its own (ensurepip took 7 s): this pip installs into it, as pipx's shared one does
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(
        sh(
            venv / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ).stdout.strip()
    )
    (site / "tdx-codegen-deps.pth").write_text(f"{dependency_dir(tmp / 'deps')}\n")
    sh(
        *(sys.executable, "-m", "pip", "--python", venv / "bin" / "python"),
        *("install", "-q", "--no-deps", "--no-index", wheel),
    )
    return venv, wheel, src


def test_the_sdist_has_the_whole_project_and_the_wheel_every_module_and_data_file(installed):
    _, wheel, src = installed
    for rel in (
        "LICENSE",
        "schema/settings.toml",
        "schema/profiles",
        "templates/python",
        "docs",
        "tests/data",
        "generated/python",
        ".pre-commit-hooks.yaml",
    ):
        assert (src / rel).exists(), rel
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if n.startswith("codegen/data/")]
    shipped = sorted(
        p.relative_to(ROOT).as_posix()
        for d in ("schema", "templates")
        for p in (ROOT / d).rglob("*")
        if p.is_file()
    )
    assert sorted(n.removeprefix("codegen/data/") for n in data) == shipped
    assert "tdx_metadata/py.typed" in names and "tdx_metadata/_runtime/__init__.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "License-Expression: GPL-2.0-only\n" in meta
    assert "Classifier: Programming Language :: Python :: 3.11\n" in meta
    # every module of the tool (a new subpackage must be listed in pyproject.toml)
    sources = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "codegen").rglob("*.py"))
    assert sorted(n for n in names if n.startswith("codegen/") and n.endswith(".py")) == sources


def test_the_installed_tool_works_in_a_project_of_its_own(installed, tmp_path):
    venv, _, _ = installed
    exe = venv / "bin" / "tdx-codegen"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    where = sh(
        venv / "bin" / "python",
        "-c",
        "import codegen; print(codegen.__file__)",
        env=env,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not this checkout
    # outside any project: the clear error, never the installed package's files
    p = sh(exe, "validate", cwd=tmp_path, env=env, check=False)
    assert (p.returncode, p.stderr.split(";")[0]) == (
        2,
        f"tdx-codegen: error: no tdx-codegen project in {tmp_path.resolve()} or any parent "
        "directory (looked for tdx-codegen.toml or schema/settings.toml)",
    )
    proj = tmp_path / "proj"
    sh("git", "init", "-q", "-b", "main", proj)
    sh(exe, "init", cwd=proj, env=env)
    assert sh(exe, "validate", cwd=proj / "schema", env=env).stdout.endswith("schema is valid\n")
    p = sh(exe, "build", "--check", cwd=proj, env=env)
    assert p.stderr.startswith("checked ") and p.stderr.endswith(": up to date\n")
    p = sh(exe, "sim", "--profile", "2.0.08", "rd", "0x9100000100000008", cwd=proj, env=env)
    assert "MAX_TDMRS" in p.stdout
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    sh(*git, "-C", proj, "add", ".")
    sh(*git, "-C", proj, "commit", "-q", "-m", "start")
    settings = proj / "schema" / "settings.toml"
    settings.write_text(settings.read_text() + "\n")
    sh(*git, "-C", proj, "commit", "-q", "-am", "touch")
    p = sh(exe, "compat", "HEAD~1", "HEAD", cwd=proj, env=env)
    assert p.stdout == "compat HEAD~1 -> HEAD: no changes\n"
    p = sh(exe, "build", cwd=proj, env=env)
    assert p.stderr.endswith("generated files up to date\n")


RECORD = """
import json, sys
import tdx_metadata as md
sim = md.simulator("2.0.08")
calls = {"rd": {}, "rdall": {}}
class Recorder:
    def rd(self, fid):
        r = sim.rd(fid); calls["rd"][str(fid)] = list(r); return r
    def rdall(self, fid):
        st, nxt, page = sim.rdall(fid); calls["rdall"][str(fid)] = [st, nxt, page.hex()]
        return st, nxt, page
a = md.read_all_rd(Recorder()).as_dict()
b = md.read_all_rdall(Recorder()).as_dict()
assert a == b
json.dump({"calls": calls, "expected": a}, sys.stdout)
"""

REPLAY = """
import json, sys
data = json.load(open(sys.argv[1]))
before = set(sys.modules)   # what Python itself loaded (Debian's python adds sitecustomize)
import tdx_metadata as md
class Replay:
    def rd(self, fid):
        return tuple(data["calls"]["rd"][str(fid)])
    def rdall(self, fid):
        st, nxt, page = data["calls"]["rdall"][str(fid)]
        return st, nxt, bytes.fromhex(page)
assert md.read_all_rd(Replay()).as_dict() == data["expected"]
assert md.read_all_rdall(Replay()).as_dict() == data["expected"]
info = md.read_all_rdall(Replay())
print(sorted(m for m in set(sys.modules) - before
             if m.split(".")[0] not in sys.stdlib_module_names))
print(md.diff(info, info), hash(info) == hash(md.read_all_rd(Replay())))
"""


def test_the_generated_readers_stand_alone_in_a_venv_without_the_tool(installed, tmp_path):
    venv, _, _ = installed
    # answers of a simulated module, recorded with the tool installed
    recorded = sh(venv / "bin" / "python", "-c", RECORD, cwd=tmp_path).stdout
    (tmp_path / "calls.json").write_text(recorded)
    bare = tmp_path / "bare"
    sh(sys.executable, "-m", "venv", "--without-pip", bare)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PYTHONPATH"] = str(ROOT / "generated" / "python")  # nothing else
    # cwd tmp_path: python -c puts the cwd on sys.path, and this checkout has codegen/
    p = sh(bare / "bin" / "python", "-c", REPLAY, tmp_path / "calls.json", env=env, cwd=tmp_path)
    assert p.stdout.splitlines() == [
        "['tdx_metadata', 'tdx_metadata._runtime', 'tdx_metadata._runtime.fieldid', "
        "'tdx_metadata._runtime.rdall_list', 'tdx_metadata._runtime.release', "
        "'tdx_metadata._runtime.status']",
        "[] True",
    ]
    assert json.loads(recorded)["expected"]["version"]["major_version"] == 2
    p = sh(bare / "bin" / "python", "-c", "import codegen", env=env, check=False, cwd=tmp_path)
    assert "No module named 'codegen'" in p.stderr


def test_pipx_install_then_a_pre_commit_hook_gates_the_generated_files(installed, tmp_path):
    """As README says: pipx installs the wheel, `init` starts a project in the user's git
    repository, and pre-commit's hook (from this repository) fails on a stale or edited file."""
    _, wheel, _ = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin",
    )
    sh(sys.executable, "-m", "pipx", "install", wheel, env=env)
    exe = tmp_path / "bin" / "tdx-codegen"
    proj = tmp_path / "repo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", proj]
    sh("git", "init", "-q", "-b", "main", proj)
    sh(exe, "init", cwd=proj, env=env)
    sh(*git, "add", ".")
    sh(*git, "commit", "-q", "-m", "start")

    # the hook as README's snippet adds it: this checkout, uncommitted changes included,
    # as a repository at a revision (pre-commit installs it once, then reuses it)
    snippet = re.search(r"^- repo: .*\n(?:  .*\n)+", (ROOT / "README.md").read_text(), flags=re.M)
    files = sh("git", "-C", ROOT, "ls-files", "-co", "--exclude-standard").stdout.split()
    upstream = tmp_path / "tdx-codegen"
    for rel in files:
        if (ROOT / rel).is_file():
            (upstream / rel).parent.mkdir(parents=True, exist_ok=True)
            (upstream / rel).write_bytes((ROOT / rel).read_bytes())
    sh("git", "init", "-q", "-b", "main", upstream)
    sh(*git[:-1], upstream, "add", ".")
    sh(*git[:-1], upstream, "commit", "-q", "-m", "tdx-codegen")
    sh(*git[:-1], upstream, "tag", "v0")
    config = snippet.group(0).replace("<tdx-codegen's repository>", str(upstream))
    (proj / ".pre-commit-config.yaml").write_text("repos:\n" + config.replace("<a tag>", "v0"))
    sh(*git, "add", ".pre-commit-config.yaml")
    sh(*git, "commit", "-q", "-m", "pre-commit")

    def hook_run():
        return sh(
            sys.executable, "-m", "pre_commit", "run", "--all-files", cwd=proj, env=env, check=False
        )

    p = hook_run()
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^tdx-codegen build --check\.+Passed$", p.stdout, flags=re.M), p.stdout

    source = proj / "generated/linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c"
    source.write_text(source.read_text() + "/* a hand edit */\n")
    p = hook_run()
    assert p.returncode == 1
    assert (
        "tdx-codegen: error: generated/linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c was "
        "edited by hand" in p.stdout
    ), p.stdout
    sh(*git, "checkout", "--", ".")

    tdmr = proj / "schema" / "11-tdmr-info.toml"
    tdmr.write_text(tdmr.read_text().replace("Maximum number of TDMRs", "Most TDMRs", 1))
    p = hook_run()
    assert p.returncode == 1
    assert "generated files do not match the schema: run 'tdx-codegen build'" in p.stdout
    sh(exe, "build", cwd=proj, env=env)
    assert hook_run().returncode == 0
