"""`tdx-codegen sim serve` under load and abuse: it keeps answering well-formed
clients correctly, its memory stays bounded, and it shuts down cleanly.

Every loop is bounded and every socket is a Unix socket in tmp_path; each test
ends by itself within seconds.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from codegen.abi import fieldid
from codegen.spec.compiler import compile_or_raise
from codegen.sim import server
from codegen.sim.client import Client, ProtocolError
from codegen.sim.profile import load_profile
from codegen.sim.simulator import Simulator
from sim.serving import Serving

ROOT = Path(__file__).resolve().parent.parent
NULL = fieldid.NULL_ID
PROFILE = "2.0.08"
GOOD = server.pack_request(34, 0, 0x9900000100000004, 0)     # TDH.SYS.RD of NUM_CPUID_CONFIG


@pytest.fixture(scope="module")
def local():
    """A fresh in-process Simulator of the served profile."""
    cat = compile_or_raise(ROOT / "schema")
    module = load_profile(ROOT / "schema" / "profiles" / f"{PROFILE}.toml", cat)
    return lambda: Simulator(module)


def serving(tmp_path, *options: str) -> Serving:
    return Serving("--profile", PROFILE, "serve", "--unix", str(tmp_path / "s.sock"), *options)


@pytest.fixture
def served(tmp_path):
    s = serving(tmp_path)
    yield s
    s.kill()


def connect(s: Serving, timeout: float = 10) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(timeout)
    sock.connect(s.address[5:])
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset ends it too)."""
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def exchange(s: Serving, data: bytes) -> bytes:
    """Send data, half-close, return the whole answer."""
    with connect(s) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass                               # closed while we still sent
        return read_all(sock)


def answer(sim: Simulator, frame: bytes) -> bytes:
    """What the server must answer to one well-formed frame."""
    return server.pack_response(*sim.call(*struct.unpack_from("<4Q", frame, 8)))


def error_frame(code: int) -> bytes:
    return struct.pack("<IHH4QII", server.RESPONSE_MAGIC, 1, code, 0, 0, 0, 0, 0, 0)


def served_ok(s: Serving) -> bool:
    with s.client() as c:
        return c.rd(0x9900000100000004) == (0, 0x9900000300000006, 20)


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def calls_of(sim: Simulator) -> list[tuple[int, int, int, int]]:
    """RD of every element and its neighbours, RDALL from every field, bad leaves and pages."""
    ids = [fid for fid, _, _ in sim.walk()]
    calls = [(34, 0, fid, 0) for fid in ids + [NULL, 0, 1 << 55, ids[-1] + 1]]
    calls += [(37, 0, 0x100000, f.id) for f in sim.fields] + [(37, 0, 0x200000, NULL)]
    calls += [(37, 0, 0x80000000, NULL), (37, 0, 0x1001, NULL), (35, 0, 0, 0), (34 | 1 << 16, 1, 2, 3)]
    return calls


# -- load -----------------------------------------------------------------------------

def test_32_clients_500_calls_each_answered_as_the_simulator(served, local):
    calls = calls_of(local())
    want = {call: local().call(*call) for call in calls}
    failures: list[str] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        try:
            with served.client() as c:
                for _ in range(500):
                    call = rng.choice(calls)
                    got = c.call(*call)
                    if got != want[call]:
                        failures.append(f"client {n}: {call} -> {got}, want {want[call]}")
                        return
        except Exception as exc:  # noqa: BLE001 -- reported below
            failures.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == []
    assert served_ok(served)


def test_pipelined_random_registers_answered_in_order(served, local):
    """2,000 well-formed frames with random registers, sent at once on one connection."""
    rng = random.Random(4)
    sim = local()
    ids = [fid for fid, _, _ in sim.walk()]
    frames = []
    for _ in range(2000):
        rax = rng.choice([34, 37, 34 | rng.getrandbits(8) << 16, rng.getrandbits(64)])
        rdx = rng.choice([rng.choice(ids), rng.getrandbits(64), NULL, rng.getrandbits(20) << 12])
        r8 = rng.choice([NULL, rng.choice(ids), rng.getrandbits(64)])
        frames.append(server.pack_request(rax, rng.getrandbits(64), rdx, r8))
    want = b"".join(answer(sim, f) for f in frames)
    assert exchange(served, b"".join(frames)) == want


def test_thousands_of_connects_and_disconnects(served):
    pid = served.proc.pid
    assert served_ok(served)
    fds = open_fds(pid)
    path = served.address[5:]
    for n in range(3000):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            kind = n % 4
            if kind == 1:
                sock.sendall(GOOD[:17])                      # a torn frame
            elif kind == 2:
                sock.sendall(GOOD * 3)                       # answers never read
            elif kind == 3:
                sock.sendall(GOOD)
                assert len(sock.recv(48)) == 48
    assert served_ok(served)
    for _ in range(100):                                     # the server closes its ends
        if open_fds(pid) == fds:
            break
        time.sleep(0.05)
    assert open_fds(pid) == fds


def test_half_closed_connection_gets_every_answer(served, local):
    sim = local()
    calls = calls_of(sim) * 3
    frames = [server.pack_request(*call) for call in calls]
    assert exchange(served, b"".join(frames)) == b"".join(answer(sim, f) for f in frames)


# -- bad input ------------------------------------------------------------------------

def test_random_bytes_get_a_refusal_or_nothing(served):
    rng = random.Random(6)
    for _ in range(300):
        blob = rng.randbytes(rng.randrange(0, 400))
        want = b"" if len(blob) < 40 else error_frame(1)    # the magic is wrong
        assert blob[:4] != b"TDXS"
        assert exchange(served, blob) == want, blob.hex()
    assert served_ok(served)


def test_random_bytes_after_good_frames(served, local):
    """Answers up to the first bad frame, then its refusal."""
    rng = random.Random(7)
    sim = local()
    for _ in range(50):
        good = rng.randrange(0, 70)
        blob = rng.randbytes(rng.randrange(40, 200))
        assert exchange(served, GOOD * good + blob) == answer(sim, GOOD) * good + error_frame(1)


@pytest.mark.parametrize("cut", range(1, 40))
def test_truncated_frame_closed_without_answer(served, local, cut):
    assert exchange(served, GOOD[:cut]) == b""
    assert exchange(served, GOOD * 3 + GOOD[:cut]) == answer(local(), GOOD) * 3


@pytest.mark.parametrize("size", [0, 39, 41, 48, 4096, 0xFFFF])
def test_oversized_and_undersized_frames_refused(served, size):
    frame = struct.pack("<IHH4Q", server.REQUEST_MAGIC, 1, size, 34, 0, 0, 0)
    assert exchange(served, frame + b"\0" * max(0, size - 40)) == error_frame(3)


def test_oversized_frame_followed_by_megabytes(served):
    """The refusal is readable, the flood is cut off, other clients are served."""
    frame = struct.pack("<IHH4Q", server.REQUEST_MAGIC, 1, 0xFFFF, 34, 0, 0, 0)
    with connect(served) as sock:
        sock.sendall(frame)
        assert sock.recv(48) == error_frame(3)
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(200):                             # 12.5 MB, more than is discarded
                sock.sendall(b"\0" * 65536)
    assert served_ok(served)


def test_client_reports_a_refusal(served):
    with served.client() as c:
        c.sock.sendall(b"TDXS" + GOOD[4:6] + b"\x29\x00" + GOOD[8:])     # size 41, then...
        with pytest.raises(ProtocolError, match="server refused the request: bad frame size"):
            c.call(34, 0, 0, 0)                              # ...the answer to it


# -- stalls ---------------------------------------------------------------------------

def test_idle_connections_give_their_slots_to_new_clients(tmp_path):
    with serving(tmp_path, "--max-clients", "16") as s:
        idle = [connect(s) for _ in range(16)]
        time.sleep(1.2)                                      # idle for over a second
        try:
            clients = []
            for n in range(16):                              # each takes an idle one's slot
                start = time.monotonic()
                clients.append(s.client())
                assert clients[-1].rd(0x9900000100000004) == (0, 0x9900000300000006, 20), n
                assert time.monotonic() - start < 2
            closed = 0
            for sock in idle:                                # the oldest idle were closed
                sock.settimeout(5)
                closed += read_all(sock) == b""
            assert closed == 16
            for c in clients:                                # and the newcomers still served
                assert c.rd(0x9900000100000004) == (0, 0x9900000300000006, 20)
                c.close()
        finally:
            for sock in idle:
                sock.close()


def test_partial_requests_are_cut_off_after_the_stall_timeout(tmp_path):
    """Slowloris: every slot holds a request begun and never finished (and one
    trickles a byte every 0.3 s); a well-formed client is refused, then served
    once the stall timeout has passed."""
    with serving(tmp_path, "--max-clients", "8", "--stall-timeout", "1.5") as s:
        stalled = [connect(s) for _ in range(8)]
        for sock in stalled:
            sock.sendall(GOOD[:20])
        time.sleep(0.3)
        start = time.monotonic()
        with s.client() as c, pytest.raises((ProtocolError, OSError)):
            c.rd(0)                                          # no slot is idle
        for i in range(20, 25):                              # progress, but no whole request
            stalled[0].sendall(GOOD[i:i + 1])
            time.sleep(0.3)
        while True:
            try:
                if served_ok(s):
                    break
            except (ProtocolError, OSError):
                assert time.monotonic() - start < 6, "no slot freed"
                time.sleep(0.1)
        assert 1.0 < time.monotonic() - start < 6
        for sock in stalled:
            sock.settimeout(5)
            assert read_all(sock) == b""                     # closed without an answer
            sock.close()


def test_client_that_never_reads(tmp_path):
    """Requests whose answers (3 KB each) are never read: the server stops reading
    them (memory bounded), serves everyone else, and drops the stalled client."""
    with serving(tmp_path, "--stall-timeout", "2") as s:
        pid = s.proc.pid
        assert served_ok(s)
        before = vm_rss_kb(pid)
        rdall = server.pack_request(37, 0, 0x100000, NULL)
        greedy = [connect(s, timeout=0.5) for _ in range(4)]
        sent = [0] * len(greedy)
        for i, sock in enumerate(greedy):
            try:
                for _ in range(100000):                      # at most 400 MB of answers
                    sock.sendall(rdall * 100)
                    sent[i] += 100
            except TimeoutError:
                pass                                         # the server stopped reading
        assert all(0 < n < 20000 for n in sent), sent
        for _ in range(50):
            assert served_ok(s)
        grown = vm_rss_kb(pid) - before
        assert grown < 32 * 1024, f"VmRSS grew by {grown} kB"
        time.sleep(3)                                        # dropped after the stall timeout
        for sock in greedy:
            sock.settimeout(10)
            got = len(read_all(sock))
            assert got < sent[greedy.index(sock)] * (48 + 3128)
            sock.close()
        assert served_ok(s)


# -- shutdown ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_with_every_kind_of_connection_open(tmp_path, sig):
    s = serving(tmp_path)
    try:
        idle = connect(s)
        torn = connect(s)
        torn.sendall(GOOD[:30])
        greedy = connect(s, timeout=0.5)
        try:
            for _ in range(10000):
                greedy.sendall(server.pack_request(37, 0, 0x100000, NULL) * 100)
        except TimeoutError:
            pass
        refused = connect(s)
        refused.sendall(b"nonsense" * 10)
        client = s.client()
        assert client.rd(0)[0] == 0
        start = time.monotonic()
        assert s.stop(sig) == (0, "tdx-codegen sim: stopped\n")
        assert time.monotonic() - start < 5
        assert not (tmp_path / "s.sock").exists()
        with pytest.raises((ProtocolError, OSError)):
            client.rd(0)
        for sock in (idle, torn, greedy, refused, client.sock):
            sock.close()
    finally:
        s.kill()


def test_repeated_signals_stop_it_once(tmp_path):
    s = serving(tmp_path)
    try:
        for _ in range(500):
            s.proc.send_signal(signal.SIGTERM)
        assert s.stop() == (0, "tdx-codegen sim: stopped\n")
    finally:
        s.kill()


# -- a simulator bug ------------------------------------------------------------------

BROKEN = r"""
import sys
from codegen.spec.compiler import compile_or_raise
from codegen.sim import server
from codegen.sim.profile import load_profile
from codegen.sim.simulator import Simulator

class Broken(Simulator):
    def call(self, rax, rcx=0, rdx=0, r8=0):
        if rax == 99:
            raise KeyError("simulated bug")
        return super().call(rax, rcx, rdx, r8)

sim = Broken(load_profile("schema/profiles/1.5.01.toml", compile_or_raise("schema")))
sys.exit(server.serve(sim, unix=sys.argv[1]))
"""


def test_a_simulator_exception_is_an_error_response_not_a_crash(tmp_path):
    path = tmp_path / "b.sock"
    proc = subprocess.Popen([sys.executable, "-c", BROKEN, str(path)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "serving" in proc.stderr.readline()
        with Client(unix=path) as c:
            assert c.rd(0)[0] == 0
            c.sock.sendall(server.pack_request(99, 0, 0, 0))
            assert c._recv(48) == error_frame(4)
        with Client(unix=path) as c:
            assert c.rd(0)[0] == 0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert (proc.returncode, err) == (0, "tdx-codegen sim: internal error: KeyError('simulated bug')\n"
                                             "tdx-codegen sim: stopped\n")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# -- TCP and options ------------------------------------------------------------------

def test_tcp_under_abuse(local):
    """Loopback TCP: resets, torn and refused frames, and concurrent clients."""
    s = Serving("--profile", PROFILE, "serve", "--tcp", "127.0.0.1:0")
    try:
        host, port = s.address[4:].rsplit(":", 1)
        address = (host, int(port))
        for n in range(200):
            with socket.create_connection(address, timeout=10) as sock:
                if n % 3 == 0:                               # reset at once
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif n % 3 == 1:
                    sock.sendall(GOOD + GOOD[:9])
                    sock.shutdown(socket.SHUT_WR)
                    assert read_all(sock) == answer(local(), GOOD)
                else:
                    sock.sendall(b"\x01" * 40)
                    assert read_all(sock) == error_frame(1)
        failures = []

        def worker() -> None:
            try:
                with s.client() as c:
                    for _ in range(200):
                        if c.rd(0x9900000100000004) != (0, 0x9900000300000006, 20):
                            failures.append("wrong answer")
                            return
            except Exception as exc:  # noqa: BLE001 -- reported below
                failures.append(repr(exc))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert failures == []
    finally:
        assert s.stop() == (0, "tdx-codegen sim: stopped\n")


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_stall_timeout_must_be_positive(tmp_path, value):
    run = subprocess.run([sys.executable, "-m", "codegen", "sim", "--profile", PROFILE, "serve",
                          "--unix", str(tmp_path / "x.sock"), "--stall-timeout", value],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == "tdx-codegen: error: --stall-timeout must be a positive number of seconds\n"
    assert not (tmp_path / "x.sock").exists()
