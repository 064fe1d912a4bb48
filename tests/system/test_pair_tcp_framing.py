"""The emulated pair over the Ethernet (TCP) link model: frames carry a length prefix
instead of COBS (mirror/frames.py "length" framing). Writes are mirrored, and a stream that
loses or corrupts segments (the fault proxy) costs only retransmissions: the receiver hunts
for the next good frame."""
import pytest

from emupair import EmuPair, block_hex

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    pair = EmuPair(tmp_path_factory.mktemp("emu"), mode="eth", image_size="4M",
                   settings={"dead_ms": 3000, "keepalive_ms": 1000},
                   key="5ec7e75ec7e75ec7e75ec7e75ec7e75e")
    try:
        pair.wait_synced(120)
        yield pair
    finally:
        pair.close()


def test_writes_are_mirrored_over_tcp_frames(pair):
    for i, b in enumerate((1, 200, 4000)):
        assert pair.p.checked("write %d %s" % (b, block_hex(i)))["ok"]
    pair.wait_synced()
    assert pair.differing() == []


def test_corrupted_and_lost_segments_only_cost_retransmissions(pair):
    pair.emu.link("corrupt", 0.05)
    pair.emu.link("drop", 0.05)
    try:
        for i, b in enumerate(range(300, 340)):
            assert pair.p.checked("write %d %s" % (b, block_hex(50 + i)))["ok"]
    finally:
        pair.emu.link("clear")
    pair.wait_synced()
    assert pair.differing() == []
