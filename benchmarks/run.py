"""tdx-codegen benchmarks: every result is a ratio measured side by side in one run.

    python benchmarks/run.py [--quick] [--json PATH] [--only NAME ...]

Prints a table and writes JSON (default build/benchmarks.json).  Timed
commands alternate with their baseline, run after run, and the medians
are compared, so machine noise hits both sides alike.  Goals come from
the project's benchmark issue; a missed goal is shown as MISS, not hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
CLI = [PY, "-m", "codegen", "-C", str(ROOT)]  # the project is this checkout, wherever run from


def timed(cmd: list[str], env=None, cwd=None) -> float:
    start = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    elapsed = time.perf_counter() - start
    if p.returncode not in (0,):
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
    return elapsed


def side_by_side(a, b, runs: int, setup_a=None, setup_b=None) -> tuple[float, float]:
    """Median seconds of a() and b(), interleaved run by run."""
    ta, tb = [], []
    for _ in range(runs):
        if setup_a:
            setup_a()
        ta.append(a())
        if setup_b:
            setup_b()
        tb.append(b())
    return statistics.median(ta), statistics.median(tb)


class Results:
    def __init__(self):
        self.rows = []

    def add(self, name, value, unit, goal=None, ok=None, note=""):
        self.rows.append(
            {"name": name, "value": value, "unit": unit, "goal": goal, "met": ok, "note": note}
        )
        status = "" if ok is None else ("ok" if ok else "MISS")
        shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        print(f"{name:<58} {shown:>14} {unit:<8} {goal or '':<16} {status:<4} {note}", flush=True)


# -- 1, 2: build against the stdlib baseline --------------------------------------

# The least a build validating with pydantic and rendering with Jinja2 can cost: a model
# defined and validated (pydantic's schema building and plugin loader run on first use),
# and a template compiled and rendered.
FLOOR = """
import jinja2, pydantic
class M(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
M.model_validate({"name": "x"})
jinja2.Environment(autoescape=True).from_string("{{ x }}").render(x=1)
"""


def bench_build(res: Results, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out, base_out = tmp / "out", tmp / "base" / "tdx_global_metadata.h"
        cache = tmp / "cache"
        # the tool as installed: its modules' bytecode written once and reused, as pip does
        # (with PYTHONDONTWRITEBYTECODE set, every run would compile tdx-codegen's sources)
        env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONDONTWRITEBYTECODE="")
        baseline = lambda: timed(
            [
                PY,
                str(ROOT / "benchmarks" / "baseline_header.py"),
                str(ROOT / "schema"),
                str(base_out),
            ]
        )
        build = lambda *extra: (
            lambda: timed(
                [*CLI, "build", "--out", str(out), *extra],
                env=env,
            )
        )
        wipe = lambda: shutil.rmtree(out, ignore_errors=True)
        wipe_all = lambda: (wipe(), shutil.rmtree(cache, ignore_errors=True))

        t_build, t_base = side_by_side(build(), baseline, runs, setup_a=wipe)
        res.add(
            "build, fresh output, warm cache / baseline",
            t_build / t_base,
            "x",
            "<= 2.0",
            t_build / t_base <= 2.0,
            f"{t_build * 1000:.0f} ms vs {t_base * 1000:.0f} ms",
        )
        t_cold, t_base = side_by_side(build(), baseline, max(3, runs // 3), setup_a=wipe_all)
        res.add(
            "build, fresh output, cold cache / baseline",
            t_cold / t_base,
            "x",
            "(reported)",
            None,
            f"{t_cold * 1000:.0f} ms (pydantic + jinja2 + all rules)",
        )
        # every schema edit is a cold build: no result cache (templates stay compiled)
        t_nc, t_base = side_by_side(build("--no-cache"), baseline, runs, setup_a=wipe)
        res.add(
            "build --no-cache / baseline",
            t_nc / t_base,
            "x",
            "<= 3.0",
            t_nc / t_base <= 3.0,
            f"{t_nc * 1000:.0f} ms vs {t_base * 1000:.0f} ms",
        )
        # what any cold build pays before tdx-codegen's own code runs: the interpreter,
        # one pydantic model validated and one Jinja2 template rendered
        floor = lambda: timed([PY, "-c", FLOOR], env=env)
        t_floor, t_base = side_by_side(floor, baseline, runs)
        res.add(
            "pydantic + Jinja2 floor / baseline",
            t_floor / t_base,
            "x",
            "(reported)",
            None,
            f"{t_floor * 1000:.0f} ms: {3.0 * t_base * 1000 - t_floor * 1000:.0f} ms "
            "left under 3.0x for the rest",
        )
        timed([*CLI, "build", "--out", str(out)], env=env)
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        t_noop, t_base = side_by_side(build(), baseline, runs)
        after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        res.add(
            "no-op rebuild / baseline",
            t_noop / t_base,
            "x",
            "<= 1.5",
            t_noop / t_base <= 1.5,
            f"{sum(before[p] != after[p] for p in after)} files written",
        )
        t_check, t_base = side_by_side(build("--check"), baseline, runs)
        res.add(
            "build --check / baseline",
            t_check / t_base,
            "x",
            "<= 1.5",
            t_check / t_base <= 1.5,
            f"{t_check * 1000:.0f} ms",
        )


# -- 3: scale --------------------------------------------------------------------

CHILD = r"""
import json, resource, sys, time
sys.argv = ["tdx-codegen", *sys.argv[1:]]
start = time.perf_counter()
from codegen.cli import main
code = main()
elapsed = time.perf_counter() - start
print(json.dumps({"code": code, "seconds": elapsed,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
      file=sys.stderr)
"""


def child(args: list[str]) -> dict:
    p = subprocess.run(
        [PY, "-c", CHILD, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, TDX_CODEGEN_NO_CACHE="1", PYTHONDONTWRITEBYTECODE=""),
    )
    last = p.stderr.decode().strip().splitlines()[-1]
    result = json.loads(last)
    if result["code"] != 0:
        raise RuntimeError(p.stderr.decode()[-800:])
    return result


def median_child(args: list[str], runs: int, setup=None) -> dict:
    """child(args) run `runs` times: the run of median time (its peak memory with it)."""
    results = []
    for _ in range(runs):
        if setup:
            setup()
        results.append(child(args))
    return sorted(results, key=lambda r: r["seconds"])[len(results) // 2]


def bench_scale(res: Results, quick: bool) -> None:
    import synth

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        times = {}
        for n in (1000, 10000):
            schema = synth.write(tmp / f"s{n}", n)
            # the median of three runs of each (one with --quick): one run is at the mercy
            # of whatever else the machine does in those seconds
            v = median_child(["validate", "--schema", str(schema)], 1 if quick else 3)
            b = median_child(
                ["build", "--schema", str(schema), "--out", str(tmp / f"o{n}")],
                1 if quick else 3,
                setup=lambda n=n: shutil.rmtree(tmp / f"o{n}", ignore_errors=True),
            )
            times[n] = b["seconds"]
            res.add(
                f"validate {n:,} fields",
                v["seconds"],
                "s",
                None,
                None,
                f"peak {v['maxrss_mb']:.0f} MiB",
            )
            goal = "< 2 s" if n == 10000 else None
            res.add(
                f"build {n:,} fields (no cache)",
                b["seconds"],
                "s",
                goal,
                b["seconds"] < 2 if goal else None,
                f"peak {b['maxrss_mb']:.0f} MiB",
            )
        ratio = times[10000] / times[1000]
        res.add("build time 10k / 1k fields", ratio, "x", "<= 11", ratio <= 11)


# -- 4: simulator in process -------------------------------------------------------


def bench_simulator(res: Results, quick: bool) -> None:
    import tdx_metadata
    from codegen.sim.profile import load_profile, resolve
    from codegen.sim.simulator import Simulator
    from codegen.spec.compiler import compile_or_raise

    cat = compile_or_raise(ROOT / "schema")
    sim = Simulator(load_profile(resolve("2.0.08", ROOT / "schema"), cat))
    ids = []
    fid = sim.rd(0xFFFFFFFFFFFFFFFF)[1]
    while fid != 0xFFFFFFFFFFFFFFFF:
        ids.append(fid)
        fid = sim.rd(fid)[1]
    rd = sim.rd
    calls, start = 0, time.perf_counter()
    budget = 0.5 if quick else 2.0
    while time.perf_counter() - start < budget:
        for i in ids:
            rd(i)
        calls += len(ids)
    rate = calls / (time.perf_counter() - start)
    res.add(
        "simulator TDH.SYS.RD calls/s (2.0.08)",
        rate,
        "calls/s",
        ">= 1,000,000",
        rate >= 1_000_000,
        f"{len(ids)} elements per walk",
    )

    def per_read(fn, budget, target):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < budget:
            fn(target)
            n += 1
        return (time.perf_counter() - start) / n

    plain = Simulator(sim.module, remember=False)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget:
        for i in ids:
            plain.rd(i)
        calls += len(ids)
    rate = calls / (time.perf_counter() - start)
    res.add("  same, every answer computed (no memo)", rate, "calls/s", "(reported)", None)

    for label, target in (("remembered answers", sim), ("every answer computed", plain)):
        t_rd = per_read(tdx_metadata.read_all_rd, budget, target)
        t_all = per_read(tdx_metadata.read_all_rdall, budget, target)
        res.add(
            f"full read RD / RDALL, in process, {label}",
            t_rd / t_all,
            "x",
            "(reported)",
            None,
            f"{t_rd * 1e3:.2f} ms vs {t_all * 1e3:.2f} ms per tdx_sys_info",
        )


# -- 5: server -----------------------------------------------------------------------

CLIENT = r"""
import sys, time
from codegen.sim.client import Client
path, n = sys.argv[1], int(sys.argv[2])
c = Client(unix=path)
ids = [0x0800000100000003, 0x9100000100000008, 0x9900000300000400]
lat = []
start = time.perf_counter()
for i in range(n):
    t = time.perf_counter()
    c.rd(ids[i % 3])
    lat.append(time.perf_counter() - t)
total = time.perf_counter() - start
print(total, " ".join(f"{x:.7f}" for x in lat))
"""


def _timed_call(fn, arg) -> float:
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start


def bench_server(res: Results, quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sock = Path(tmp) / "sim.sock"
        server = subprocess.Popen(
            [*CLI, "sim", "--profile", "2.0.08", "serve", "--unix", str(sock)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                if sock.exists():
                    break
                time.sleep(0.05)
            n = 2000 if quick else 10000
            for clients in (1, 8):
                procs = [
                    subprocess.Popen(
                        [PY, "-c", CLIENT, str(sock), str(n)], stdout=subprocess.PIPE, cwd=ROOT
                    )
                    for _ in range(clients)
                ]
                outs = [p.communicate()[0].decode().split() for p in procs]
                wall = max(float(o[0]) for o in outs)
                lat = sorted(float(x) for o in outs for x in o[1:])
                p99 = lat[int(len(lat) * 0.99)] * 1e6
                res.add(
                    f"server round trips/s, {clients} client(s), Unix socket",
                    clients * n / wall,
                    "rt/s",
                    None,
                    None,
                    f"p99 {p99:.0f} us",
                )
            import tdx_metadata
            from codegen.sim.client import Client

            client = Client(unix=str(sock))
            t_rd = min(_timed_call(tdx_metadata.read_all_rd, client) for _ in range(5))
            t_all = min(_timed_call(tdx_metadata.read_all_rdall, client) for _ in range(5))
            res.add(
                "full read RD / RDALL over the socket (a SEAMCALL costs a round trip)",
                t_rd / t_all,
                "x",
                "RDALL wins",
                t_rd > t_all,
                f"{t_rd * 1e3:.1f} ms vs {t_all * 1e3:.1f} ms; hardware: about 7x",
            )
        finally:
            server.terminate()
            server.wait(10)


# -- 6: import of the generated readers ----------------------------------------------


def bench_import(res: Results, runs: int) -> None:
    # the readers as a user has them: generated/python first on the path, the tool not needed
    env = dict(
        os.environ, PYTHONDONTWRITEBYTECODE="", PYTHONPATH=str(ROOT / "generated" / "python")
    )
    timed([PY, "-c", "import tdx_metadata"], env=env)  # compile .pyc once
    t_imp, t_pass = side_by_side(
        lambda: timed([PY, "-c", "import tdx_metadata"], env=env),
        lambda: timed([PY, "-c", "pass"], env=env),
        runs * 2,
    )
    res.add(
        "import tdx_metadata / python -c pass",
        t_imp / t_pass,
        "x",
        "<= 1.1",
        t_imp / t_pass <= 1.1,
        f"{t_imp * 1000:.0f} ms vs {t_pass * 1000:.0f} ms",
    )


BENCHES = {
    "build": bench_build,
    "scale": bench_scale,
    "simulator": bench_simulator,
    "server": bench_server,
    "import": bench_import,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    ap.add_argument("--json", type=Path, default=ROOT / "build" / "benchmarks.json")
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES), default=list(BENCHES))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    runs = 5 if args.quick else 15
    res = Results()
    print(f"{'benchmark':<58} {'value':>14} {'unit':<8} {'goal':<16} met")
    for name in args.only:
        fn = BENCHES[name]
        fn(res, runs) if name in ("build", "import") else fn(res, args.quick)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"python": sys.version.split()[0], "results": res.rows}, indent=2) + "\n"
    )
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
