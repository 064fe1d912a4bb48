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
    top = sorted(f for f in os.listdir(fi.FIRMWARE) if f.endswith(".py") and f != fi.BOOT)
    for board in fi.boards():
        if not fi.board_value(board, "FROZEN", False):
            continue
        frozen = fi.manifest_modules(board)
        assert set(top) <= frozen, (board, sorted(set(top) - frozen))
        packages = set(arg for fn, arg in fi.manifest_calls(board) if fn == "package")
        assert set(fi.PACKAGES) <= packages, (board, packages)
