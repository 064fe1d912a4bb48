# Raspberry Pi Pico 2 (RP2350A; MicroPython board RPI_PICO2): wired as the Pico (rp2040
# profile), SD card on SPI1, link on UART0. 520 KiB SRAM. The stock RPI_PICO2 build's GC
# heap is what ports/rp2's linker script leaves of RAM after .data and .bss: __GcHeapStart
# 0x20005574, __GcHeapEnd 0x2007F000 = 498,316 bytes at MicroPython af47daf3b0 with pico-sdk
# 2.2.0 (arm-none-eabi-nm of a build of it), about 486,900 once the GC's tables are taken
# (512 of every 524 bytes: py/gc.c); HEAP leaves ~3 KiB of that for the REPL's own use
# (4,160 bytes on the Pico). Read from the build's symbols, not run: rp2040py emulates only
# the RP2040. The window is 8 frames.
NAME = "rp2350"
TITLE = "Raspberry Pi Pico 2 (RP2350)"
PLATFORM = "rp2"
MPY_BOARD = "RPI_PICO2"
CHIP = "rp2350"
BASE = "rp2"  # lends sniffcrc.py and its Thumb kernel sniffk.py (boards/rp2)
# the DMA sniffer computes crc32 and crc32-mpeg2 as a DMA channel moves each block
# (boards/rp2/sniffcrc.py): registered at boot if it gives the check values
CRC_UNIT = "sniffcrc"
HEAP = 472 * 1024
MPY_ARCH = "armv7m"  # Cortex-M33: the -march ports/rp2 builds .mpy with (CMakeLists.txt)
SETTINGS = {"window": 8, "frame_blocks": 8}
SPI = {"id": 1, "sck": 10, "mosi": 11, "miso": 12, "cs": 13, "baudrate": 25000000}
UART = {"id": 0, "tx": 0, "rx": 1, "baudrate": 115200}
