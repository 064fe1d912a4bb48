"""What `sdmirror flash` and the emulator put on a board."""
import os

import pytest

from sdmirror import firmware_image as fi


def test_every_profile_builds(tmp_path):
    for board in fi.boards():
        out = tmp_path / board
        files = fi.build(board, str(out), full=True)
        assert "main.py" in files and "board.mpy" in files and "mirror/node.mpy" in files
        assert (out / "mirror" / "__init__.py").exists()
        assert not any(f.endswith(".py") for f in files
                       if f not in ("main.py",) and not f.endswith("__init__.py"))


def test_a_profile_borrows_its_base_profiles_modules(tmp_path, monkeypatch):
    for name, text in (("base", 'NAME = "base"\n'), ("derived", 'NAME = "derived"\nBASE = "base"\n')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "board.py").write_text(text)
    (tmp_path / "base" / "crc_hw.py").write_text("")
    monkeypatch.setattr(fi, "BOARDS", str(tmp_path))
    srcs = dict((dest, src) for src, dest in fi.sources("derived", full=True))
    assert srcs["crc_hw.py"] == str(tmp_path / "base" / "crc_hw.py")
    assert srcs["board.py"] == str(tmp_path / "derived" / "board.py")


def test_unknown_board_is_a_clear_error():
    with pytest.raises(fi.ImageError, match="unknown board 'pdp11'; known boards: emu"):
        fi.sources("pdp11")


def test_a_frozen_profile_gets_only_its_boot_script_and_profile(tmp_path):
    assert fi.board_value("esp32", "FROZEN") and not fi.board_value("rp2350", "FROZEN", False)
    files = fi.build("esp32", str(tmp_path / "esp32"))
    assert files == ["main.py", "board.mpy"]  # the rest is in the MicroPython build
    assert "mirror/node.mpy" in fi.build("rp2350", str(tmp_path / "rp2350"))


def test_a_frozen_profile_does_not_shadow_what_its_manifest_freezes(tmp_path):
    # stm32f4's manifest freezes crc_hw.py: a copy on /flash would come first in sys.path
    assert "crc_hw.py" in fi.manifest_modules("stm32f4")
    assert fi.build("stm32f4", str(tmp_path / "f4")) == ["main.py", "board.mpy"]
    assert "crc_hw.mpy" in fi.build("stm32f4", str(tmp_path / "full"), full=True)


def test_every_frozen_profile_freezes_what_flash_leaves_out():
    # a module neither on the filesystem nor in the build: the board's boot dies on import
    for board in fi.boards():
        if not fi.board_value(board, "FROZEN", False):
            continue
        top = set(dest for src, dest in fi.sources(board, full=True)
                  if os.path.dirname(src) == fi.FIRMWARE and dest != fi.BOOT)
        frozen = fi.manifest_modules(board)
        assert set(top) <= frozen, (board, sorted(set(top) - frozen))
        packages = set(arg for fn, arg in fi.manifest_calls(board) if fn == "package")
        assert set(fi.PACKAGES) <= packages, (board, packages)


def _native(path):
    with open(path) as f:
        return any(line.startswith(("@micropython.viper", "@micropython.asm_thumb"))
                   for line in f)


def test_each_image_carries_its_cores_native_code(tmp_path):
    # native code is precompiled for the profile's MPY_ARCH (header byte 2: arch << 2),
    # bytecode-only modules carry no arch, Thumb kernels are in ARM images only
    native = {"mirror/crck.mpy", "mirror/cobsk.mpy"}
    for board in fi.boards():
        arch = fi.board_value(board, "MPY_ARCH", "host")
        out = tmp_path / board
        srcs = dict((fi._target(d), s) for s, d in fi.sources(board, full=True))
        files = fi.build(board, str(out), full=True)
        assert native <= set(files), board
        assert ("thumbk.mpy" in files) == arch.startswith("armv"), board
        for f in files:
            if not f.endswith(".mpy"):
                continue
            with open(out / f, "rb") as fh:
                head = fh.read(4)
            assert head[:2] == b"M\x06", (board, f)
            want = (arch if arch != "host" else "x64") if _native(srcs[f]) else None
            assert fi.mpy_arch(head) == want, (board, f, fi.mpy_arch(head))


def test_a_vm_image_leaves_the_thumb_kernels_out(tmp_path):
    files = fi.build("rp2040", str(tmp_path), full=True, arch=False)
    assert "thumbk.mpy" not in files and "mirror/crck.mpy" in files


def test_a_profile_with_an_unknown_arch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fi, "board_value", lambda b, k, d=None, r=None: "z80" if k == "MPY_ARCH" else d)
    with pytest.raises(fi.ImageError, match="MPY_ARCH 'z80' is not an mpy-cross -march"):
        fi.build("rp2350", str(tmp_path))
