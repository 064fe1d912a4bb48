# The runtime's millisecond clock past 2^30 ms (12.4 days up): the board's time.ticks_ms
# wraps at 2^30 (MicroPython's TICKS_PERIOD, py/modtime... extmod/modtime.c) and the
# controller's own times must stay below 2^30, because a larger int is a heap object on a
# 32-bit port. Two runtimes over loopback TCP share a fake board clock that wraps as the
# real one does and is pushed past several wraps.
import runtime
from test_runtime import pair_over_tcp, pump_until, settled

from mirror.volume import MirroredVolume

_PERIOD = 1 << 30  # MicroPython's ticks period (MICROPY_PY_TIME_TICKS_PERIOD)


class Clock:
    def __init__(self, t):
        self.t = t

    def ticks_ms(self):
        return self.t % _PERIOD

    def ticks_diff(self, a, b):
        return ((a - b + _PERIOD // 2) % _PERIOD) - _PERIOD // 2


def times(rt):
    """Every time the runtime and its controller hold."""
    s = rt.node.session
    out = [rt._now, rt.node.now, s._last_rx, s._last_tx, s._hello_due, s._ack_due, s._now]
    out.extend(s._slot_time)
    for t in (rt.node.fg_time, rt.policy._last, getattr(rt.node, "_next_scan", None)):
        if t is not None:
            out.append(t)
    return out


def run_with(clock, fn):
    saved = runtime.ticks_ms, runtime.ticks_diff
    runtime.ticks_ms, runtime.ticks_diff = clock.ticks_ms, clock.ticks_diff
    try:
        return fn()
    finally:
        runtime.ticks_ms, runtime.ticks_diff = saved


def test_controller_times_stay_small_across_clock_wraps():
    clock = Clock(_PERIOD - 5000)  # the board's clock is about to wrap

    def scenario():
        rp, rs = pair_over_tcp()

        def pump_until_clocked(cond):
            def step():
                clock.t += 7
                return cond()
            pump_until(rp, rs, step)

        pump_until_clocked(lambda: settled(rp, rs))
        vol = MirroredVolume(rp.node, rp)
        elapsed = 0
        block = 0
        # two days per jump: the pair times out, pairs again, and mirrors a write; after
        # eight jumps the board has been up 16 days (> 2^30 ms) and wrapped once more
        for jump in range(8):
            clock.t += 2 * 24 * 3600 * 1000
            elapsed += 2 * 24 * 3600 * 1000
            pump_until_clocked(lambda: settled(rp, rs))
            block += 1
            vol.writeblocks(block, bytes([jump + 1]) * 512)
            pump_until_clocked(lambda: settled(rp, rs))
            for rt in (rp, rs):
                for t in times(rt):
                    assert -1 <= t < runtime.REBASE_AT + (1 << 24), times(rt)
        assert elapsed > 1 << 30
        out = bytearray(512)
        for b in range(1, block + 1):
            rs.card.readblocks(b, out)
            assert out == bytes([b]) * 512
        rp.link.close(rp.now())
        rs.link.close(rs.now())

    run_with(clock, scenario)


def test_rebase_keeps_deadlines_ahead_and_the_past_behind():
    rp, rs = pair_over_tcp()
    now = runtime.REBASE_AT + 10
    s = rp.node.session
    rp._now = rp.node.now = now
    s._last_rx = now - 100
    s._last_tx = 5  # long before the new epoch
    s._hello_due = now + 500
    s._ack_due = -1  # none due
    rp.policy.foreground(now - 3)
    rp.link._next_try = now + 50
    rp._rebase()
    k = runtime.KEEP
    assert rp._now == rp.node.now == k
    assert (s._last_rx, s._last_tx, s._hello_due, s._ack_due) == (k - 100, 0, k + 500, -1)
    assert rp.policy._last == k - 3 and rp.link._next_try == k + 50
    rp.link.close(rp.now())
    rs.link.close(rs.now())
