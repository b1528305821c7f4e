"""`tdx-codegen sim serve` under load and abuse: it keeps answering well-formed
clients correctly, its memory stays bounded, it copes with a full descriptor
table and with clients that trickle or read slowly, and it shuts down cleanly.

Every loop is bounded and every socket is a Unix socket in a temporary
directory; each test ends by itself within seconds.  Tests that need no
server of their own share one (`shared`): they leave nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sim.serving import Serving, connect, error_frame, exchange, read_all

from codegen.abi import fieldid
from codegen.sim import protocol
from codegen.sim.client import Client, ProtocolError
from codegen.sim.profile import load_profile
from codegen.sim.simulator import Simulator
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
NULL = fieldid.NULL_ID
PROFILE = "2.0.08"
GOOD = protocol.pack_request(34, 0, 0x9900000100000004, 0)  # TDH.SYS.RD of NUM_CPUID_CONFIG
BUSY = error_frame(5)


@pytest.fixture(scope="module")
def local():
    """A fresh in-process Simulator of the served profile."""
    cat = compile_or_raise(ROOT / "schema")
    module = load_profile(ROOT / "schema" / "profiles" / f"{PROFILE}.toml", cat)
    return lambda: Simulator(module)


def serving(tmp_path, *options: str) -> Serving:
    return Serving("--profile", PROFILE, "serve", "--unix", str(tmp_path / "s.sock"), *options)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that do not need their own."""
    s = serving(tmp_path_factory.mktemp("shared"))
    yield s
    assert s.stop() == (0, "tdx-codegen sim: stopped\n")


def answer(sim: Simulator, frame: bytes) -> bytes:
    """What the server must answer to one well-formed frame."""
    return protocol.pack_response(*sim.call(*struct.unpack_from("<4Q", frame, 8)))


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


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(predicate, seconds: float = 30) -> bool:
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def calls_of(sim: Simulator) -> list[tuple[int, int, int, int]]:
    """RD of every element and its neighbours, RDALL from every field, bad leaves and pages."""
    ids = [fid for fid, _, _ in sim.walk()]
    calls = [(34, 0, fid, 0) for fid in [*ids, NULL, 0, 1 << 55, ids[-1] + 1]]
    calls += [(37, 0, 0x100000, f.id) for f in sim.fields] + [(37, 0, 0x200000, NULL)]
    calls += [
        (37, 0, 0x80000000, NULL),
        (37, 0, 0x1001, NULL),
        (35, 0, 0, 0),
        (34 | 1 << 16, 1, 2, 3),
    ]
    return calls


# -- load -----------------------------------------------------------------------------


def test_32_clients_500_calls_each_answered_as_the_simulator(shared, local):
    calls = calls_of(local())
    want = {call: local().call(*call) for call in calls}
    failures: list[str] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        try:
            with shared.client() as c:
                for _ in range(500):
                    call = rng.choice(calls)
                    got = c.call(*call)
                    if got != want[call]:
                        failures.append(f"client {n}: {call} -> {got}, want {want[call]}")
                        return
        except Exception as exc:  # any failure: reported below
            failures.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == []
    assert served_ok(shared)


def test_pipelined_random_registers_answered_in_order(shared, local):
    """2,000 well-formed frames with random registers, sent at once on one connection."""
    rng = random.Random(4)
    sim = local()
    ids = [fid for fid, _, _ in sim.walk()]
    frames = []
    for _ in range(2000):
        rax = rng.choice([34, 37, 34 | rng.getrandbits(8) << 16, rng.getrandbits(64)])
        rdx = rng.choice([rng.choice(ids), rng.getrandbits(64), NULL, rng.getrandbits(20) << 12])
        r8 = rng.choice([NULL, rng.choice(ids), rng.getrandbits(64)])
        frames.append(protocol.pack_request(rax, rng.getrandbits(64), rdx, r8))
    want = b"".join(answer(sim, f) for f in frames)
    assert exchange(shared, b"".join(frames)) == want


def test_thousands_of_connects_and_disconnects(tmp_path):
    """Every connection's descriptor is closed again: the count comes back to what
    it was before the first connection (taken then, nothing is in flight)."""
    with serving(tmp_path) as s:
        pid = s.proc.pid
        fds = open_fds(pid)
        assert served_ok(s)
        path = s.address[5:]
        for n in range(3000):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(10)
                sock.connect(path)
                kind = n % 4
                if kind == 1:
                    sock.sendall(GOOD[:17])  # a torn frame
                elif kind == 2:
                    sock.sendall(GOOD * 3)  # answers never read
                elif kind == 3:
                    sock.sendall(GOOD)
                    assert len(sock.recv(48)) == 48
        assert served_ok(s)
        assert wait_until(lambda: open_fds(pid) <= fds), (open_fds(pid), fds)
        assert open_fds(pid) == fds


def test_half_closed_connection_gets_every_answer(shared, local):
    sim = local()
    calls = calls_of(sim) * 3
    frames = [protocol.pack_request(*call) for call in calls]
    assert exchange(shared, b"".join(frames)) == b"".join(answer(sim, f) for f in frames)


# -- bad input ------------------------------------------------------------------------


def test_random_bytes_get_a_refusal_or_nothing(shared):
    rng = random.Random(6)
    for _ in range(300):
        blob = rng.randbytes(rng.randrange(0, 400))
        want = b"" if len(blob) < 40 else error_frame(1)  # the magic is wrong
        assert blob[:4] != b"TDXS"
        assert exchange(shared, blob) == want, blob.hex()
    assert served_ok(shared)


def test_random_bytes_after_good_frames(shared, local):
    """Answers up to the first bad frame, then its refusal."""
    rng = random.Random(7)
    sim = local()
    for _ in range(50):
        good = rng.randrange(0, 70)
        blob = rng.randbytes(rng.randrange(40, 200))
        assert exchange(shared, GOOD * good + blob) == answer(sim, GOOD) * good + error_frame(1)


@pytest.mark.parametrize("cut", range(1, 40))
def test_truncated_frame_closed_without_answer(shared, local, cut):
    assert exchange(shared, GOOD[:cut]) == b""
    assert exchange(shared, GOOD * 3 + GOOD[:cut]) == answer(local(), GOOD) * 3


@pytest.mark.parametrize("size", [0, 39, 41, 48, 4096, 0xFFFF])
def test_oversized_and_undersized_frames_refused(shared, size):
    frame = struct.pack("<IHH4Q", protocol.REQUEST_MAGIC, 1, size, 34, 0, 0, 0)
    assert exchange(shared, frame + b"\0" * max(0, size - 40)) == error_frame(3)


def test_oversized_frame_followed_by_megabytes(shared):
    """The refusal is readable, the flood is cut off, other clients are served."""
    frame = struct.pack("<IHH4Q", protocol.REQUEST_MAGIC, 1, 0xFFFF, 34, 0, 0, 0)
    with connect(shared) as sock:
        sock.sendall(frame)
        assert sock.recv(48) == error_frame(3)
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(200):  # 12.5 MB, more than is discarded
                sock.sendall(b"\0" * 65536)
    assert served_ok(shared)


def test_client_reports_a_refusal(shared):
    with shared.client() as c:
        c.sock.sendall(b"TDXS" + GOOD[4:6] + b"\x29\x00" + GOOD[8:])  # size 41, then...
        with pytest.raises(ProtocolError, match="server refused the request: bad frame size"):
            c.call(34, 0, 0, 0)  # ...the answer to it


# -- stalls ---------------------------------------------------------------------------


def test_idle_connections_give_their_slots_to_new_clients(tmp_path):
    with serving(tmp_path, "--max-clients", "16") as s:
        idle = [connect(s) for _ in range(16)]
        time.sleep(1.2)  # idle for over a second
        try:
            clients = []
            for n in range(16):  # each takes an idle one's slot
                start = time.monotonic()
                clients.append(s.client())
                assert clients[-1].rd(0x9900000100000004) == (0, 0x9900000300000006, 20), n
                assert time.monotonic() - start < 2
            closed = 0
            for sock in idle:  # the oldest idle were closed
                sock.settimeout(5)
                closed += read_all(sock) == b""
            assert closed == 16
            for c in clients:  # and the newcomers still served
                assert c.rd(0x9900000100000004) == (0, 0x9900000300000006, 20)
                c.close()
        finally:
            for sock in idle:
                sock.close()


def test_a_request_must_arrive_whole_within_a_second(tmp_path):
    """Slowloris: every slot of --max-clients 8 holds a request begun, four never
    continued and four trickling a byte every 0.2 s (a whole request each 8 s, inside
    the stall timeout).  A newcomer is refused as busy, and served once the request
    deadline (1 s after a request's first byte) has closed them all, unanswered."""
    with serving(tmp_path, "--max-clients", "8") as s:
        stalled = [connect(s) for _ in range(8)]
        for sock in stalled:
            sock.sendall(GOOD[:1])
        start = time.monotonic()
        with (
            s.client() as c,
            pytest.raises(
                ProtocolError,
                match="server refused the request: "
                r"server busy \(no free connection slot",
            ),
        ):
            c.rd(0)  # no slot is idle
        closed, sent = {}, 1
        while len(closed) < 4 and time.monotonic() - start < 10:
            time.sleep(0.2)
            for n, sock in enumerate(stalled[:4]):  # progress, never a whole request
                try:
                    if n not in closed:
                        sock.send(GOOD[sent % 40 : sent % 40 + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed[n] = time.monotonic() - start
            sent += 1
        assert sorted(closed) == [0, 1, 2, 3]
        assert all(0.8 < t < 4 for t in closed.values()), closed
        while True:
            try:
                if served_ok(s):
                    break
            except (ProtocolError, OSError):
                assert time.monotonic() - start < 4, "no slot freed"
                time.sleep(0.05)
        assert 0.8 < time.monotonic() - start < 4
        for sock in stalled:
            sock.settimeout(5)
            assert read_all(sock) == b""  # closed without an answer
            sock.close()


def test_a_slow_steady_reader_is_not_dropped(tmp_path, local):
    """A client pipelines 400 TDH.SYS.RDALLs (1.3 MB of answers) and reads them at
    20 KB/s for longer than the stall timeout: the bytes it takes are progress, so
    it is not cut off, and every answer arrives in order."""
    frame = protocol.pack_request(37, 0, 0x100000, NULL)
    want = answer(local(), frame) * 400
    with serving(tmp_path, "--stall-timeout", "3") as s, connect(s) as sock:
        sock.sendall(frame * 400)  # 16 KB: the socket takes it all
        got = bytearray()
        start = time.monotonic()
        while time.monotonic() - start < 5:
            chunk = sock.recv(2048)
            assert chunk, f"closed after {time.monotonic() - start:.1f} s, {len(got)} bytes"
            got += chunk
            time.sleep(0.1)
        assert len(got) < len(want) // 4  # the server waited on us
        while len(got) < len(want) and (chunk := sock.recv(65536)):
            got += chunk
        assert got == want


def test_client_that_never_reads(tmp_path):
    """Requests whose answers (3 KB each) are never read: the server stops reading
    them (memory bounded), serves everyone else, and drops the stalled client."""
    with serving(tmp_path, "--stall-timeout", "2") as s:
        pid = s.proc.pid
        assert served_ok(s)
        before = vm_rss_kb(pid)
        rdall = protocol.pack_request(37, 0, 0x100000, NULL)
        greedy = [connect(s, timeout=0.5) for _ in range(4)]
        sent = [0] * len(greedy)
        for i, sock in enumerate(greedy):
            try:
                for _ in range(100000):  # at most 400 MB of answers
                    sock.sendall(rdall * 100)
                    sent[i] += 100
            except TimeoutError:
                pass  # the server stopped reading
        assert all(0 < n < 20000 for n in sent), sent
        for _ in range(50):
            assert served_ok(s)
        grown = vm_rss_kb(pid) - before
        assert grown < 32 * 1024, f"VmRSS grew by {grown} kB"
        time.sleep(3)  # dropped after the stall timeout
        for sock in greedy:
            sock.settimeout(10)
            got = len(read_all(sock))
            assert got < sent[greedy.index(sock)] * (48 + 3128)
            sock.close()
        assert served_ok(s)


# -- exhaustion -----------------------------------------------------------------------


def round_trip(sock: socket.socket) -> bytes:
    """One TDH.SYS.RD on a raw connection: its answer, or BUSY when the server
    refused the connection (and then closed it)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before it arrived
        sock.sendall(GOOD)
    got = sock.recv(48)
    if got == BUSY:
        assert read_all(sock) == b""
    return got


def test_out_of_file_descriptors_newcomers_are_refused_without_spinning(tmp_path, local):
    """With a descriptor limit (24) below --max-clients (64), accept() fails with
    EMFILE once the table is full: each newcomer gets ERR_BUSY and a close at once,
    the server does not spin on its readable listener, and once a connection ends
    its descriptor serves a newcomer."""
    with serving(tmp_path, "--max-clients", "64") as s:
        pid = s.proc.pid
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (24, 24))
        want = answer(local(), GOOD)
        held = []
        for _ in range(64):
            sock = connect(s, timeout=5)
            got = round_trip(sock)
            if got != BUSY:
                assert got == want
                held.append(sock)
                continue
            sock.close()
            break
        else:
            pytest.fail("64 connections accepted under a limit of 24 descriptors")
        assert 10 <= len(held) <= 20, len(held)
        newcomer = connect(s, timeout=5)  # waits in the backlog, if at all
        before = cpu_seconds(pid)
        time.sleep(1)
        assert cpu_seconds(pid) - before < 0.2  # no busy loop on EMFILE
        assert newcomer.recv(48) == BUSY and read_all(newcomer) == b""
        newcomer.close()
        held[0].shutdown(socket.SHUT_WR)
        assert read_all(held[0]) == b""  # the server closed its end
        held[0].close()
        assert served_ok(s)  # on the descriptor that freed
        for sock in held[1:]:
            assert round_trip(sock) == want  # the others still served
            sock.close()


def test_a_second_server_does_not_hang_on_a_stopped_one(tmp_path):
    """A first server stopped (SIGSTOP) with a full backlog: the second one's probe
    of the socket file gives up after a second and refuses the path."""
    path = tmp_path / "s.sock"
    s = serving(tmp_path)
    queued = []
    try:
        s.proc.send_signal(signal.SIGSTOP)
        for _ in range(1000):  # fill the stopped server's backlog
            sock = socket.socket(socket.AF_UNIX)
            sock.setblocking(False)
            queued.append(sock)
            try:
                sock.connect(str(path))
            except BlockingIOError:
                break
        assert 100 < len(queued) < 1000
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "codegen",
                "sim",
                "--profile",
                PROFILE,
                "serve",
                "--unix",
                str(path),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert (second.returncode, second.stdout) == (2, "")
        assert second.stderr == (
            f"tdx-codegen: error: --unix {path}: another server is listening "
            "there (it accepts no connections: stopped or overloaded)\n"
        )
    finally:
        s.proc.send_signal(signal.SIGCONT)
        for sock in queued:
            sock.close()
        assert s.stop() == (0, "tdx-codegen sim: stopped\n")


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
                greedy.sendall(protocol.pack_request(37, 0, 0x100000, NULL) * 100)
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
from pathlib import Path
from codegen.spec.compiler import compile_or_raise
from codegen.sim import server
from codegen.sim.profile import load_profile
from codegen.sim.simulator import Simulator

class Broken(Simulator):
    def call(self, rax, rcx=0, rdx=0, r8=0):
        if rax == 99:
            raise KeyError("simulated bug")
        return super().call(rax, rcx, rdx, r8)

schema = Path(sys.argv[2])
sim = Broken(load_profile(schema / "profiles" / "1.5.01.toml", compile_or_raise(schema)))
sys.exit(server.serve(sim, unix=sys.argv[1]))
"""


def test_a_simulator_exception_is_an_error_response_not_a_crash(tmp_path):
    path = tmp_path / "b.sock"
    proc = subprocess.Popen(
        [sys.executable, "-c", BROKEN, str(path), str(ROOT / "schema")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "serving" in proc.stderr.readline()
        with Client(unix=path) as c:
            assert c.rd(0)[0] == 0
            c.sock.sendall(protocol.pack_request(99, 0, 0, 0))
            assert c._recv(48) == error_frame(4)
        with Client(unix=path) as c:
            assert c.rd(0)[0] == 0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert (proc.returncode, err) == (
            0,
            "tdx-codegen sim: internal error: KeyError('simulated bug')\n"
            "tdx-codegen sim: stopped\n",
        )
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
                if n % 3 == 0:  # reset at once
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
            except Exception as exc:  # any failure: reported below
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
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "sim",
            "--profile",
            PROFILE,
            "serve",
            "--unix",
            str(tmp_path / "x.sock"),
            "--stall-timeout",
            value,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (2, "")
    assert (
        run.stderr == "tdx-codegen: error: --stall-timeout must be a positive number of seconds\n"
    )
    assert not (tmp_path / "x.sock").exists()
