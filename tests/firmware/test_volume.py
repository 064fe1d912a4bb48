# Volumes: the block-device protocol, bounds checks, and the mirrored volume carrying a
# FAT filesystem whose every write reaches the secondary.
from fwtest import raises, randbytes, rng, skip
from pairkit import Pair

from mirror.volume import MemBlockDevice, MirroredVolume, check_range


def test_block_device_protocol():
    dev = MemBlockDevice(16)
    rng(1)
    data = bytes(randbytes(1024))
    dev.writeblocks(3, data)
    out = bytearray(1024)
    dev.readblocks(3, out)
    assert out == data
    assert dev.ioctl(4, 0) == 16 and dev.ioctl(5, 0) == 512
    assert dev.ioctl(1, 0) == 0 and dev.ioctl(3, 0) == 0 and dev.ioctl(6, 0) == 0


def test_bounds_are_checked_with_a_clear_message():
    dev = MemBlockDevice(16)
    assert "outside the volume" in str(raises(ValueError, dev.writeblocks, 15, bytes(1024)))
    assert "outside" in str(raises(ValueError, dev.readblocks, -1, bytearray(512)))
    assert "whole number of blocks" in str(raises(ValueError, dev.writeblocks, 0, bytes(100)))
    assert "offset" in str(raises(ValueError, dev.readblocks, 0, bytearray(512), 4))
    assert check_range(2, bytes(2048), 16) == 4


class Runtime:
    """What a board's runtime gives the mirrored volume, here driving a test pair."""

    def __init__(self, pair):
        self.pair = pair

    def local_read(self, block, buf):
        self.pair.p.card.readblocks(block, buf)

    def local_write(self, block, buf):
        self.pair.p.card.writeblocks(block, buf)

    def now(self):
        return self.pair.now

    def wait(self, predicate):
        self.pair.run(20000, until=predicate)


def mirrored(mode="async", nblocks=256):
    pair = Pair(nblocks=nblocks, seed=7, mode=mode)
    pair.connect()
    pair.run(20000, until=pair.synced)
    return pair, MirroredVolume(pair.primary, Runtime(pair))


def test_mirrored_volume_writes_reach_the_secondary():
    pair, vol = mirrored()
    rng(2)
    data = bytes(randbytes(20 * 512))  # larger than one frame: split into several
    vol.writeblocks(100, data)
    out = bytearray(len(data))
    vol.readblocks(100, out)
    assert out == data
    pair.run(20000, until=pair.synced)
    assert pair.s.card.data[100 * 512:120 * 512] == data
    assert vol.ioctl(4, 0) == 256 and vol.ioctl(5, 0) == 512


def test_mirrored_volume_sync_mode_returns_once_durable():
    pair, vol = mirrored(mode="sync")
    vol.writeblocks(8, b"\xab" * 512)
    assert pair.s.card.data[8 * 512:9 * 512] == b"\xab" * 512
    assert vol.ioctl(3, 0) == 0


def test_mirrored_volume_rejects_out_of_range_writes_untouched():
    pair, vol = mirrored()
    before = bytes(pair.p.card.data)
    raises(ValueError, vol.writeblocks, 255, bytes(1024))
    assert bytes(pair.p.card.data) == before


def test_fat_filesystem_on_the_mirrored_volume():
    try:
        import vfs
    except ImportError:
        skip("vfs.VfsFat exists only on MicroPython (the emulator tests cover CPython hosts)")
    if not hasattr(vfs, "VfsFat"):
        skip("this port is built without VfsFat (the WebAssembly port)")
    pair, vol = mirrored(nblocks=512)
    vfs.VfsFat.mkfs(vol)
    fs = vfs.VfsFat(vol)
    with fs.open("/hello.txt", "w") as f:
        f.write("mirrored\n" * 100)
    fs.mkdir("/logs")
    with fs.open("/logs/a.log", "w") as f:
        f.write("x" * 3000)
    pair.run(20000, until=pair.synced)
    assert pair.coherent()
    # the secondary's card alone holds the same filesystem
    copy = MemBlockDevice(512, bytearray(pair.s.card.data[:512 * 512]))
    fs2 = vfs.VfsFat(copy)
    names = sorted(e[0] for e in fs2.ilistdir("/"))
    assert names == ["hello.txt", "logs"]
    with fs2.open("/hello.txt", "r") as f:
        assert f.read() == "mirrored\n" * 100


def test_sync_write_waits_for_room_when_confirmations_lag():
    # the window has room but too many writes await the secondary's confirmation: the
    # volume must wait for confirmations (pumping the link), not spin on the window
    pair, vol = mirrored(mode="sync")
    p = pair.primary
    p._inflight_max = 1
    rng(8)
    data = bytes(randbytes(3 * 512))
    vol.writeblocks(30, data)
    for b in range(40, 44):
        vol.writeblocks(b, bytes([b]) * 512)
    pair.run(5000, until=pair.synced)
    assert pair.s.card.data[43 * 512] == 43 and p.can_accept()
