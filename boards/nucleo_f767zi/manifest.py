# MicroPython manifest: freeze the sdmirror firmware into the NUCLEO_F767ZI build, so its
# bytecode stays in flash (board.py says FROZEN = True; as .mpy files it would not fit the
# board's 96 KiB flash filesystem). Paths are relative to this file. For example:
#   make -C micropython/ports/stm32 BOARD=NUCLEO_F767ZI FROZEN_MANIFEST=$PWD/boards/nucleo_f767zi/manifest.py
include("$(BOARD_DIR)/manifest.py")  # the board's own (port modules, networking bundle)
include("../firmware_manifest.py")  # the sdmirror firmware
module("thumbk.py", base_path="../../firmware")  # its Thumb kernel: ARM builds only
module("crc_f7.py")  # the CRC unit engine (board.CRC_UNIT) and its viper kernel, frozen
module("crc_f7k.py")  # with the port's -march (armv7emdp): nothing compiled on the board
