# MicroPython manifest: the stock NUCLEO_F767ZI build plus the sdmirror firmware frozen in,
# so its bytecode stays in flash (the 96 KiB flash filesystem cannot hold it, and Renode must
# not write there: see host/sdmirror/renode_fs.py) and the heap holds only the controller's
# data (board.py says FROZEN = True). Paths are relative to this file. For example:
#   make -C micropython/ports/stm32 BOARD=NUCLEO_F767ZI FROZEN_MANIFEST=$PWD/boards/renode/manifest.py
include("$(BOARD_DIR)/manifest.py")  # the board's own (port modules, networking bundle)
include("../firmware_manifest.py")  # the sdmirror firmware
module("thumbk.py", base_path="../../firmware")  # its Thumb kernel: ARM builds only
module("renode_card.py")
