"""The emulator's link proxy: relay, UART pacing, faults, counters, control channel."""
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

HOST_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "host")
if HOST_DIR not in sys.path:
    sys.path.insert(0, HOST_DIR)

from sdmirror.emu.control import ControlError  # noqa: E402
from sdmirror.emu.linkproxy import LinkError, LinkProxy, ProxyClient  # noqa: E402


@pytest.fixture
def make_proxy():
    started = []

    def make(**kw):
        p = LinkProxy(**kw).start()
        started.append(p)
        return p
    yield make
    for p in started:
        p.stop()


@pytest.fixture
def conns():
    opened = []

    def connect(port):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.settimeout(5)
        opened.append(s)
        return s
    yield connect
    for s in opened:
        try:
            s.close()
        except OSError:
            pass


def wait_for(cond, timeout=3.0, step=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def pair(proxy, connect):
    a = connect(proxy.port_a)
    b = connect(proxy.port_b)
    assert wait_for(lambda: all(proxy.stats()["connected"].values()))
    return a, b


def recv_exactly(sock, n, timeout=10.0):
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n and time.monotonic() < deadline:
        try:
            chunk = sock.recv(min(65536, n - len(buf)))
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def recv_for(sock, seconds):
    """Everything that arrives within `seconds` (b"" on EOF too)."""
    buf = bytearray()
    deadline = time.monotonic() + seconds
    sock.settimeout(0.02)
    try:
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
    finally:
        sock.settimeout(5)
    return bytes(buf)


def transfer_both_ways(a, b, data_ab, data_ba):
    ts = [threading.Thread(target=a.sendall, args=(data_ab,)),
          threading.Thread(target=b.sendall, args=(data_ba,))]
    results = {}
    rs = [threading.Thread(target=lambda: results.__setitem__("b", recv_exactly(b, len(data_ab)))),
          threading.Thread(target=lambda: results.__setitem__("a", recv_exactly(a, len(data_ba))))]
    for t in ts + rs:
        t.start()
    for t in ts + rs:
        t.join(20)
    return results["b"], results["a"]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_eth_relay_both_directions(make_proxy, conns):
    p = make_proxy(mode="eth")
    a, b = pair(p, conns)
    rnd = random.Random(1)
    ab = rnd.randbytes(300_000)
    ba = rnd.randbytes(200_000)
    got_b, got_a = transfer_both_ways(a, b, ab, ba)
    assert sha(got_b) == sha(ab)
    assert sha(got_a) == sha(ba)
    st = p.stats()
    assert st["a_to_b"]["bytes_in"] == st["a_to_b"]["bytes_out"] == len(ab)
    assert st["b_to_a"]["bytes_out"] == len(ba)


def test_uart_relay_both_directions_paced(make_proxy, conns):
    # 1,000,000 baud -> 100,000 B/s per direction; 20 KB each way take ~0.2 s in parallel
    p = make_proxy(mode="uart", baud=1_000_000)
    assert p.effective_rate == 100_000
    a, b = pair(p, conns)
    rnd = random.Random(2)
    ab, ba = rnd.randbytes(20_000), rnd.randbytes(20_000)
    t0 = time.monotonic()
    got_b, got_a = transfer_both_ways(a, b, ab, ba)
    elapsed = time.monotonic() - t0
    assert sha(got_b) == sha(ab) and sha(got_a) == sha(ba)
    assert 0.17 < elapsed < 1.0, elapsed


def test_uart_pacing_at_115200(make_proxy, conns):
    # 115200 baud, 8N1 -> 11,520 B/s: 11,520 bytes take one second
    p = make_proxy(mode="uart", baud=115200)
    a, b = pair(p, conns)
    data = os.urandom(11_520)
    t0 = time.monotonic()
    a.sendall(data)
    got = recv_exactly(b, len(data))
    elapsed = time.monotonic() - t0
    assert got == data
    assert 0.9 < elapsed < 1.4, elapsed


def test_rate_cap_and_delay(make_proxy, conns):
    p = make_proxy(mode="eth")
    a, b = pair(p, conns)
    p.rate(50_000)                       # bytes/s
    data = os.urandom(25_000)
    t0 = time.monotonic()
    a.sendall(data)
    assert recv_exactly(b, len(data)) == data
    assert 0.45 < time.monotonic() - t0 < 1.2
    p.rate(0)
    p.delay(200)
    t0 = time.monotonic()
    b.sendall(b"ping")
    assert recv_exactly(a, 4) == b"ping"
    one_way = time.monotonic() - t0
    assert 0.19 < one_way < 0.6, one_way
    p.delay(0)
    t0 = time.monotonic()
    b.sendall(b"pong")
    assert recv_exactly(a, 4) == b"pong"
    assert time.monotonic() - t0 < 0.15


def test_down_blackhole_then_up(make_proxy, conns):
    p = make_proxy(mode="uart", baud=1_000_000)
    a, b = pair(p, conns)
    p.down()
    a.sendall(b"lost in the cut cable")
    assert recv_for(b, 0.3) == b""
    st = p.stats()
    assert st["faults"]["down"] is True
    assert st["a_to_b"]["lost"] == len(b"lost in the cut cable")
    assert all(st["connected"].values())      # black hole: connections stay open
    p.up()
    a.sendall(b"after")
    assert recv_exactly(b, 5) == b"after"


def test_down_reset_closes_and_refuses(make_proxy, conns):
    p = make_proxy(mode="eth")
    a, b = pair(p, conns)
    p.down("reset")
    assert recv_for(a, 1.0) == b"" and recv_for(b, 1.0) == b""
    assert wait_for(lambda: not any(p.stats()["connected"].values()))
    c = conns(p.port_a)
    assert recv_for(c, 0.5) == b""                          # accepted, then closed at once
    p.up()
    a2, b2 = pair(p, conns)
    a2.sendall(b"back")
    assert recv_exactly(b2, 4) == b"back"


def test_eth_peer_close_closes_other_uart_does_not(make_proxy, conns):
    p = make_proxy(mode="eth")
    a, b = pair(p, conns)
    b.close()
    assert recv_for(a, 1.0) == b""                          # end-to-end session gone
    u = make_proxy(mode="uart", baud=1_000_000)
    ua, ub = pair(u, conns)
    ub.close()
    assert wait_for(lambda: not u.stats()["connected"]["b"])
    ua.sendall(b"nobody listens")
    assert wait_for(lambda: u.stats()["a_to_b"]["lost"] == 14)
    assert u.stats()["connected"]["a"]
    ub2 = conns(u.port_b)
    assert wait_for(lambda: u.stats()["connected"]["b"])
    ua.sendall(b"hi")
    assert recv_exactly(ub2, 2) == b"hi"


def test_new_connection_replaces_old(make_proxy, conns):
    p = make_proxy(mode="uart", baud=1_000_000)
    a, b = pair(p, conns)
    b2 = conns(p.port_b)
    assert wait_for(lambda: p.stats()["connects"]["b"] == 2)
    assert recv_for(b, 0.5) == b""                          # the old one was closed
    a.sendall(b"to the new one")
    assert recv_exactly(b2, 14) == b"to the new one"


def _uart_faulty_run(make_proxy, conns, seed, **faults):
    p = make_proxy(mode="uart", baud=4_000_000, seed=seed)   # 400 KB/s keeps it quick
    for k, v in faults.items():
        getattr(p, k)(v)
    a, b = pair(p, conns)
    data = random.Random(5).randbytes(20_000)
    a.sendall(data)
    assert wait_for(lambda: p.stats()["a_to_b"]["bytes_in"] == len(data) and
                    p.stats()["a_to_b"]["queued"] == 0, timeout=5)
    expect = len(data) - p.stats()["a_to_b"]["dropped"]
    got = recv_exactly(b, expect, timeout=5)
    return p, data, got


def test_drop_statistics_with_seed(make_proxy, conns):
    p, data, got = _uart_faulty_run(make_proxy, conns, seed=7, drop=0.1)
    st = p.stats()["a_to_b"]
    assert 1600 < st["dropped"] < 2400                     # ~10 % of 20,000 bytes
    assert len(got) == len(data) - st["dropped"] == st["bytes_out"]
    assert st["dropped_bytes"] == st["dropped"]
    # the same seed drops the same bytes
    p2, _, got2 = _uart_faulty_run(make_proxy, conns, seed=7, drop=0.1)
    assert got2 == got
    p3, _, got3 = _uart_faulty_run(make_proxy, conns, seed=8, drop=0.1)
    assert got3 != got


def test_corrupt_statistics_with_seed(make_proxy, conns):
    p, data, got = _uart_faulty_run(make_proxy, conns, seed=3, corrupt=0.05)
    st = p.stats()["a_to_b"]
    assert len(got) == len(data)
    differing = [(x, y) for x, y in zip(data, got) if x != y]
    assert len(differing) == st["corrupted"]
    assert 700 < st["corrupted"] < 1300                    # ~5 % of 20,000
    assert all(bin(x ^ y).count("1") == 1 for x, y in differing)   # one bit flipped each


def test_eth_drops_whole_segments(make_proxy, conns):
    p = make_proxy(mode="eth", seed=1)
    p.drop(0.5)
    a, b = pair(p, conns)
    for _ in range(40):
        a.sendall(b"x" * 100)
        time.sleep(0.002)
    assert wait_for(lambda: p.stats()["a_to_b"]["bytes_in"] == 4000)
    st = p.stats()["a_to_b"]
    assert st["dropped"] >= 1
    got = recv_exactly(b, 4000 - st["dropped_bytes"], timeout=3)
    assert len(got) == st["bytes_out"] == 4000 - st["dropped_bytes"]


def test_bad_fault_values(make_proxy):
    p = make_proxy(mode="uart")
    for fn, v in ((p.drop, 1.5), (p.drop, "x"), (p.corrupt, -0.1), (p.delay, -1),
                  (p.rate, float("nan"))):
        with pytest.raises(LinkError):
            fn(v)
    with pytest.raises(LinkError):
        p.down("sideways")
    with pytest.raises(LinkError):
        LinkProxy(mode="wifi")


def test_control_channel_from_another_process(make_proxy, conns, tmp_path):
    state = tmp_path / "link.json"
    p = make_proxy(mode="uart", baud=1_000_000, control_port=0, state_path=str(state))
    code = ("import sys, json; sys.path.insert(0, %r)\n"
            "from sdmirror.emu.linkproxy import ProxyClient\n"
            "c = ProxyClient(%d)\n"
            "r = [c.send('drop', p=0.25), c.send('delay', ms=30), c.send('rate', bps=5000),\n"
            "     c.request('drop', p=7), c.request('nonsense'), c.send('stats')]\n"
            "print(json.dumps(r))\n") % (HOST_DIR, p.control_port)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    replies = json.loads(out.stdout)
    assert replies[0]["ok"] and replies[0]["faults"]["drop"] == 0.25
    assert replies[3]["ok"] is False and "between 0 and 1" in replies[3]["error"]
    assert replies[4]["ok"] is False and "unknown command" in replies[4]["error"]
    assert replies[5]["stats"]["faults"]["rate"] == 5000
    f = p.faults()
    assert (f["drop"], f["delay_ms"], f["rate"]) == (0.25, 30, 5000)
    assert json.loads(state.read_text())["faults"]["delay_ms"] == 30   # persisted
    # and from a thread, while data flows
    c = ProxyClient(p.control_port)
    c.send("clear")
    a, b = pair(p, conns)
    t = threading.Thread(target=lambda: [c.send("down"), time.sleep(0.2), c.send("up")])
    t.start()
    t.join(5)
    a.sendall(b"ok")
    assert recv_exactly(b, 2) == b"ok"
    with pytest.raises(ControlError):
        c.send("corrupt", p="lots")
    with pytest.raises(ControlError):
        ProxyClient(1, timeout=0.5).send("stats")   # nothing listens there
