"""Property: any sequence of single/multi-block reads and writes through the firmware's
SD driver on the emulated card behaves like a plain bytearray, with random card timings
and with read-CRC faults (retried, invisible) and write errors (OSError, nothing of the
failed block written) mixed in."""
import random

from drivers.sdcard import SDCard
from emu.sdcard_model import EmuPin, EmuSPI, SDCardModel
from hypothesis import given, settings
from hypothesis import strategies as st

BLOCKS = 1024  # 512 KiB, the smallest SDHC capacity unit

_span = st.integers(0, BLOCKS - 1).flatmap(
    lambda lba: st.tuples(st.just(lba), st.integers(1, min(24, BLOCKS - lba)))
)
_op = st.one_of(
    st.tuples(st.just("write"), _span, st.integers(0, 2**32 - 1)),
    st.tuples(st.just("read"), _span, st.just(0)),
    st.tuples(st.just("read_crc"), st.tuples(st.integers(1, 3), st.just(0)), st.just(0)),
    st.tuples(st.just("write_error"), st.tuples(st.integers(0, 23), st.just(0)), st.just(0)),
)
_timing = st.fixed_dictionaries(
    {
        "ncr": st.integers(1, 8),
        "nac": st.integers(1, 40),
        "write_busy": st.integers(0, 60),
        "stop_busy": st.integers(0, 20),
        "init_polls": st.integers(1, 10),
    }
)


@settings(max_examples=60, deadline=None)
@given(timing=_timing, ops=st.lists(_op, max_size=25))
def test_driver_matches_a_bytearray(timing, ops):
    card = SDCardModel(BLOCKS * 512, **timing)
    sd = SDCard(EmuSPI(card), EmuPin(card))
    assert sd.sectors == BLOCKS
    ref = bytearray(BLOCKS * 512)
    write_fault_at = None  # index of the block (within the next write) that will fail
    for kind, (a, b), seed in ops:
        if kind == "write":
            lba, n = a, b
            data = random.Random(seed).randbytes(n * 512)
            if write_fault_at is not None and write_fault_at < n:
                _arm_write_error(card, lba + write_fault_at)
                try:
                    sd.writeblocks(lba, data)
                except OSError as e:
                    assert e.args[0] == 5
                else:
                    raise AssertionError("write error not reported")
                good = write_fault_at * 512
                ref[lba * 512 : lba * 512 + good] = data[:good]
                write_fault_at = None
            else:
                sd.writeblocks(lba, data)
                ref[lba * 512 : (lba + n) * 512] = data
        elif kind == "read":
            lba, n = a, b
            back = bytearray(n * 512)
            sd.readblocks(lba, back)
            assert back == ref[lba * 512 : (lba + n) * 512]
        elif kind == "read_crc":
            if card.read_crc_faults == 0:
                card.inject("read_crc", a)  # <= read_retries in a row: always recovered
        else:
            write_fault_at = a
    assert card.peek(0, BLOCKS) == ref
    assert card.cmd_crc_errors == 0 and card.data_crc_errors == 0


def _arm_write_error(card, lba):
    # Fail exactly the block at `lba` (the fault counter alone cannot aim mid-stream).
    orig = card._rx_done

    def rx_done():
        if card._wlba == lba:
            card.inject("write_error")
            card._rx_done = orig
        orig()

    card._rx_done = rx_done
