# STM32F4 (e.g. STM32F407VE "black" board, 192 KiB RAM): SD card on SPI2, link on USART2,
# and the chip's CRC unit as the `crc32-mpeg2` engine (crc_hw.py). Configure
# "alg": "crc32-mpeg2" on both boards; a peer without the unit computes it in software.
NAME = "stm32f4"
# The firmware is frozen into the MicroPython build (manifest.py): its bytecode (about
# 80 KiB) stays in flash and `sdmirror flash` copies only main.py and the profile.
FROZEN = True
HEAP = 100 * 1024
MPY_ARCH = "armv7emsp"  # crc_hw.py uses the viper emitter: compile it for this core
SETTINGS = {"window": 4, "frame_blocks": 4, "chunk_blocks": 8, "alg": "crc32-mpeg2"}
SPI = {"id": 2, "sck": "B13", "mosi": "B15", "miso": "B14", "cs": "B12", "baudrate": 21000000}
UART = {"id": 2, "tx": "A2", "rx": "A3", "baudrate": 115200}
CRC_UNIT = "crc_hw"
