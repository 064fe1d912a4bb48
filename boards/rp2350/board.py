# Raspberry Pi Pico 2 (RP2350A; MicroPython board RPI_PICO2): wired as the Pico (rp2040
# profile), SD card on SPI1, link on UART0. 520 KiB SRAM; the heap stated here is an
# estimate (not measured on the chip), the window 8 frames.
NAME = "rp2350"
TITLE = "Raspberry Pi Pico 2 (RP2350)"
PLATFORM = "rp2"
MPY_BOARD = "RPI_PICO2"
CHIP = "rp2350"
HEAP = 400 * 1024
MPY_ARCH = "armv7m"  # Cortex-M33: the -march ports/rp2 builds .mpy with (CMakeLists.txt)
SETTINGS = {"window": 8, "frame_blocks": 8}
SPI = {"id": 1, "sck": 10, "mosi": 11, "miso": 12, "cs": 13, "baudrate": 25000000}
UART = {"id": 0, "tx": 0, "rx": 1, "baudrate": 115200}
