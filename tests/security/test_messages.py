"""Hypothesis over every message type's parser: whatever the payload, msgcheck.problem()
answers without raising, and a paired node given the message (as its peer's session would
deliver it, authentic) neither raises nor writes outside its volume."""
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tools", "fuzz"))
import harness  # noqa: E402

from mirror import msgcheck, proto as P  # noqa: E402
from mirror.node import A_WRITE  # noqa: E402

TYPES = [v for k, v in vars(P).items() if k.startswith("T_")] + [0, 3, 0x7F, 0xFF]
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def _payloads():
    # raw bytes, and payloads that start like a real message (a header, entries) so the
    # parsers' later checks are reached, not only the first length test
    entry = st.tuples(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFF)).map(
        lambda t: t[0].to_bytes(4, "little") + t[1].to_bytes(2, "little"))
    hdr = st.binary(min_size=1, max_size=10)
    return st.one_of(st.binary(max_size=600),
                     st.tuples(hdr, st.lists(entry, max_size=4), st.binary(max_size=300)).map(
                         lambda t: t[0] + b"".join(t[1]) + t[2]))


@SETTINGS
@given(st.sampled_from(TYPES), _payloads(), st.sampled_from([4, 16, 20, 32]),
       st.integers(1, 1 << 20), st.integers(1, 64))
def test_the_shape_check_never_raises(ftype, p, dsize, max_span, frame_blocks):
    why = msgcheck.problem(ftype, p, dsize, max_span, frame_blocks)
    assert why is None or isinstance(why, str)


_targets = {}


def _target(keyed):
    if keyed not in _targets:
        t = harness.NodeTarget(keyed)
        t.writes = []
        for side in (t.pair.p, t.pair.s):
            emit = side.node.emit

            def watch(kind, a, b, emit=emit, side=side):
                if kind == A_WRITE and side is t.pair.s and a < side.node.nblocks:
                    assert a + len(b) // 512 <= side.node.vblocks, (a, len(b))
                emit(kind, a, b)
            side.node.emit = watch
        _targets[keyed] = t
    return _targets[keyed]


@SETTINGS
@given(st.booleans(), st.sampled_from([2, 3]), st.sampled_from(TYPES), _payloads())
def test_a_paired_node_takes_any_message(keyed, mode, ftype, p):
    _target(keyed).feed(bytes([mode, ftype]) + p)


@SETTINGS
@given(st.booleans(), st.sampled_from([0, 1]), st.binary(max_size=800))
def test_a_node_takes_any_bytes_from_the_wire(keyed, mode, data):
    _target(keyed).feed(bytes([mode]) + data)
