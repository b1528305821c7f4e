"""`tdx-codegen sim serve` with the Python client and the C client of tests/sim/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sim.serving import Serving, error_frame, exchange

from codegen.abi import fieldid
from codegen.sim import protocol
from codegen.sim.client import ProtocolError
from codegen.sim.profile import load_profile
from codegen.sim.simulator import Regs, Simulator
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
CDIR = ROOT / "tests" / "sim"
NULL = fieldid.NULL_ID


@pytest.fixture
def served(tmp_path):
    """A server of its own, for a test that stops it."""
    s = Serving("--profile", "1.5.01", "serve", "--unix", str(tmp_path / "s.sock"))
    yield s
    s.kill()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that leave it as they found it."""
    s = Serving(
        "--profile", "1.5.01", "serve", "--unix", str(tmp_path_factory.mktemp("shared") / "s.sock")
    )
    yield s
    assert s.stop() == (0, "tdx-codegen sim: stopped\n")


@pytest.fixture(scope="module")
def local():
    cat = compile_or_raise(ROOT / "schema")
    return lambda name="1.5.01": Simulator(
        load_profile(ROOT / "schema" / "profiles" / f"{name}.toml", cat)
    )


def test_banner_and_clean_shutdown(served, tmp_path):
    sock = tmp_path / "s.sock"
    assert served.banner == f"tdx-codegen sim: serving module 1.5.01 (65 fields) on unix:{sock}\n"
    assert sock.exists()
    code, err = served.stop(signal.SIGTERM)
    assert (code, err) == (0, "tdx-codegen sim: stopped\n")
    assert not sock.exists()


def test_sigint_with_clients_connected(served, tmp_path):
    with served.client() as c:
        assert c.rd(0)[0] == 0
        assert served.stop(signal.SIGINT) == (0, "tdx-codegen sim: stopped\n")
    assert not (tmp_path / "s.sock").exists()


def test_python_client_answers_as_the_simulator(shared, local):
    sim = local()
    with shared.client() as c:
        assert list(c.walk()) == list(sim.walk())
        fid = NULL
        for _ in range(400):  # RD, following RDX, register by register
            assert c.seamcall(34, 5, fid, 7) == sim.seamcall(34, 5, fid, 7)
            fid = sim.seamcall(34, 5, fid, 7).rdx
            if fid == NULL:
                break
        assert c.rdall(NULL) == sim.rdall(NULL)
        assert len(c.rdall(NULL)[2]) == 3128
        assert c.call(37, 0, 0x1001, NULL) == (Regs(0xC000010000000002, 0, 0x1001, NULL), None)
        assert c.call(37 | 1 << 16, 1, 2, 3) == (Regs(0xC000010000000000, 1, 2, 3), None)


def test_many_clients_at_once(shared, local):
    want = local().rdall(NULL)
    results, errors = [], []

    def worker():
        try:
            with shared.client() as c:
                for _ in range(5):
                    results.append(c.rdall(NULL))
                    assert c.rd(0x9900000100000004) == (0, 0x9900000300000006, 12)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [want] * 120


@pytest.mark.parametrize(
    "frame,code",
    [
        (b"XXXX" + protocol.pack_request(34, 0, 0, 0)[4:], 1),
        (struct.pack("<IHH4Q", protocol.REQUEST_MAGIC, 2, 40, 34, 0, 0, 0), 2),
        (struct.pack("<IHH4Q", protocol.REQUEST_MAGIC, 1, 4096, 34, 0, 0, 0), 3),
        (b"not a frame " * 80000, 1),  # under a megabyte of garbage
    ],
    ids=["magic", "version", "size", "garbage"],
)
def test_bad_frames_get_an_error_and_a_closed_connection(shared, frame, code):
    assert exchange(shared, frame) == error_frame(code)
    with shared.client() as c:  # still serving
        assert c.rd(0)[0] == 0


def test_endless_garbage_is_cut_off(shared):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(shared.address[5:])
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(1000):  # 64 MB, never read
                s.sendall(b"\xff" * 65536)
    with shared.client() as c:
        assert c.rd(0)[0] == 0


def test_torn_frame_is_closed_without_answer(shared):
    good = protocol.pack_request(34, 0, 0, 0)
    answer = exchange(shared, good + good[:20])
    assert len(answer) == protocol.RESPONSE.size  # the whole frame answered
    assert struct.unpack_from("<IHH4Q", answer)[3:] == (0, 0, 0x0000000200000001, 2)


def test_client_reports_a_refused_frame(shared):
    with shared.client() as c:
        c.sock.sendall(struct.pack("<IHH4Q", protocol.REQUEST_MAGIC, 1, 41, 34, 0, 0, 0))
        _magic, _version, error = struct.unpack("<IHH", c._recv(8))
        assert error == 3


def test_connections_beyond_max_clients_are_closed(tmp_path):
    s = Serving(
        "--profile", "1.5.01", "serve", "--max-clients", "2", "--unix", str(tmp_path / "m.sock")
    )
    try:
        a, b = s.client(), s.client()
        assert a.rd(0)[0] == 0 and b.rd(0)[0] == 0
        for busy in (a, b):  # a request begun: not idle
            busy.sock.sendall(protocol.pack_request(34, 0, 0, 0)[:20])
        with (
            s.client() as c,
            pytest.raises(ProtocolError, match="server refused the request: server busy"),
        ):
            c.rd(0)
        a.close()
        for _ in range(200):  # the freed slot is reused
            try:
                with s.client() as d:
                    assert d.rd(0)[0] == 0
                break
            except (ProtocolError, OSError):
                time.sleep(0.05)
        else:
            pytest.fail("no connection was served after a client left")
        b.close()
    finally:
        assert s.stop()[0] == 0


def serve_unix(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "sim",
            "--profile",
            "1.5.01",
            "serve",
            "--unix",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_stale_socket_file_is_replaced_and_a_live_one_refused(tmp_path):
    path = tmp_path / "stale.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()
    s = Serving("--profile", "1.5.01", "serve", "--unix", str(path))
    try:
        second = serve_unix(path)
        assert second.returncode == 2
        assert (
            second.stderr
            == f"tdx-codegen: error: --unix {path}: another server is listening there\n"
        )
    finally:
        assert s.stop()[0] == 0
    assert not path.exists()


@pytest.mark.parametrize("case", ["parent-file", "parent-missing", "parent-loop", "too-long"])
def test_unix_paths_that_cannot_be_served_are_usage_errors(tmp_path, case):
    (tmp_path / "file").write_text("not a directory\n")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    path, why = {
        "parent-file": (tmp_path / "file" / "s.sock", f"{tmp_path}/file is not a directory"),
        "parent-missing": (tmp_path / "no" / "s.sock", f"directory {tmp_path}/no does not exist"),
        "parent-loop": (
            tmp_path / "loop" / "s.sock",
            f"{tmp_path}/loop: Too many levels of symbolic links",
        ),
        "too-long": (
            tmp_path / ("x" * (107 - len(str(tmp_path)))),
            "a socket path is at most 107 bytes, this one is 108",
        ),
    }[case]
    before = sorted(tmp_path.iterdir())
    run = serve_unix(path)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == f"tdx-codegen: error: --unix {path}: {why}\n"
    assert sorted(tmp_path.iterdir()) == before


def test_a_socket_path_of_107_bytes_is_served(tmp_path):
    path = tmp_path / ("x" * (106 - len(str(tmp_path))))
    assert len(str(path)) == 107
    with Serving("--profile", "1.5.01", "serve", "--unix", str(path)) as s, s.client() as c:
        assert c.rd(0)[0] == 0
    assert not path.exists()


def test_tcp_on_an_ephemeral_port(local):
    s = Serving("--profile", "2.0.08", "serve", "--tcp", "127.0.0.1:0")
    try:
        assert s.address.startswith("tcp:127.0.0.1:")
        with s.client() as c:
            assert c.rdall(NULL) == local("2.0.08").rdall(NULL)
    finally:
        assert s.stop()[0] == 0


# -- the C client ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cbuild(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("cbuild")

    def build(name: str, *sources: str) -> Path:
        exe = out / name
        subprocess.run(
            [
                "gcc",
                "-std=gnu11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-O2",
                "-I",
                str(CDIR),
                "-o",
                str(exe),
                *sources,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return exe

    return build


def line_of(regs: Regs, page: bytes | None) -> str:
    text = " ".join(
        f"{n}=0x{v:016x}" for n, v in zip(("rax", "rcx", "rdx", "r8"), regs, strict=True)
    )
    return text + (f" page={page.hex()}" if page else "")


def test_c_client(shared, local, cbuild):
    exe = cbuild("simcli", str(CDIR / "simcli.c"), str(CDIR / "simclient.c"))
    calls = [
        (34, 0, 0x9900000300000503, 0),
        (34, 9, NULL, 9),
        (34, 0, 1 << 55, 0),
        (37, 0, 0x3000, NULL),
        (37, 0, 0x3000, 0x9000000300000100),
        (37, 0, 0x80000000, NULL),
        (37 | 1 << 16, 1, 2, 3),
    ]
    argv = [str(exe), shared.address] + [hex(v) for call in calls for v in call]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    sim = local()
    assert out.splitlines() == [line_of(*sim.call(*call)) for call in calls]


FAKE_READ_MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
int fake_read(uint64_t field_id, uint64_t *data);
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		uint64_t v = 0;
		int ret = fake_read(strtoull(argv[i], NULL, 0), &v);
		printf("ret=%d value=0x%llx\n", ret, (unsigned long long)v);
	}
	return 0;
}
"""


def test_fake_read_retries_no_entropy_and_maps_errors_to_eio(tmp_path, cbuild):
    main = tmp_path / "main.c"
    main.write_text(FAKE_READ_MAIN)
    exe = cbuild("fake_read", str(main), str(CDIR / "fake_read.c"), str(CDIR / "simclient.c"))
    s = Serving(
        "--profile",
        "1.5.01",
        "--fault",
        "NUM_CPUID_CONFIG=TDX_RND_NO_ENTROPY:15",
        "--fault",
        "MAX_TDMRS=TDX_SYS_BUSY",
        "serve",
        "--unix",
        str(tmp_path / "f.sock"),
    )
    try:
        run = subprocess.run(
            [str(exe), "0x9900000100000004", "0x9100000100000008", "0x9900000100000008"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TDX_SIM_ADDRESS": s.address},
        )
        assert run.stdout.splitlines() == [
            "ret=0 value=0xc",
            "ret=-5 value=0x0",
            "ret=-5 value=0x0",
        ]
        assert run.stderr.splitlines() == [
            "SEAMCALL (0x0000000000000022) failed: 0x8000020200000000",
            "SEAMCALL (0x0000000000000022) failed: 0xc0000c0000000000",
        ]
        run = subprocess.run(
            [str(exe), "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "TDX_SIM_ADDRESS"},
        )
        assert run.stdout == "ret=-19 value=0x0\n"
    finally:
        assert s.stop()[0] == 0
