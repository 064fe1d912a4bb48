# STM32F4 (STM32F407; MicroPython board STM32F4DISC, 192 KiB RAM): SD card on SPI2 (PB13
# SCK, PB14 MISO, PB15 MOSI: the stm32 port fixes a hardware bus's pins), link on USART2
# (PA2 TX, PA3 RX, fixed),
# and the chip's CRC unit as the `crc32-mpeg2` engine (crc_hw.py). Configure
# "alg": "crc32-mpeg2" on both boards; a peer without the unit computes it in software.
NAME = "stm32f4"
TITLE = "STM32F4 Discovery (STM32F407)"
PLATFORM = "pyboard"
MPY_BOARD = "STM32F4DISC"
CHIP = "stm32f407"
# The firmware is frozen into the MicroPython build (manifest.py): its bytecode (about
# 80 KiB) stays in flash and `sdmirror flash` copies only main.py and the profile.
FROZEN = True
HEAP = 100 * 1024
MPY_ARCH = "armv7emsp"  # crc_hw.py uses the viper emitter: compile it for this core
SETTINGS = {"window": 4, "frame_blocks": 4, "chunk_blocks": 8, "alg": "crc32-mpeg2"}
SPI = {"id": 2, "cs": "B12", "baudrate": 21000000}
UART = {"id": 2, "baudrate": 115200}
CRC_UNIT = "crc_hw"
