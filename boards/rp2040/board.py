# Raspberry Pi Pico (RP2040; MicroPython board RPI_PICO): SD card on SPI1, link on UART0.
# 264 KiB SRAM. The stock RPI_PICO build's GC heap is what its linker script leaves of the
# 256 KiB striped RAM after .data and .bss (ports/rp2/memmap_rp2040/*.incl: __GcHeapStart =
# end of bss + C heap (0), __GcHeapEnd = end of RAM): 239,320 bytes at MicroPython
# af47daf3b0 with pico-sdk 2.2.0, of which the GC's own tables leave 233,792 (gc.mem_alloc()
# + gc.mem_free() on that build in rp2040py, 4,160 of them in use at the REPL): HEAP below
# (docs/benchmarks.md, "RAM on a stock Pico"). The window is kept at 3 frames (at 115200 baud
# one 4 KiB frame is 355 ms on the wire: 3 in flight cover any round trip of a cable), and
# background reads at 8 blocks. No `socket` on this build (the Pico W's has): the UART link
# imports none.
NAME = "rp2040"
TITLE = "Raspberry Pi Pico (RP2040)"
PLATFORM = "rp2"  # sys.platform of MicroPython's rp2 port
MPY_BOARD = "RPI_PICO"  # the MicroPython build to flash (micropython.org/download/RPI_PICO)
CHIP = "rp2040"
BASE = "rp2"  # lends sniffcrc.py and its Thumb kernel sniffk.py (boards/rp2)
# the DMA sniffer computes crc32 and crc32-mpeg2 as a DMA channel moves each block
# (boards/rp2/sniffcrc.py): registered at boot if it gives the check values
CRC_UNIT = "sniffcrc"
# A stock RPI_PICO build: `sdmirror flash` copies the firmware as .mpy files (bytecode, in
# the heap once imported). For more headroom freeze it instead (manifest.py, README).
HEAP = 228 * 1024
MPY_ARCH = "armv6m"  # Cortex-M0+: the -march ports/rp2 builds .mpy with (CMakeLists.txt)
# listed_max 0: the list of an outage's writes (6 KiB, and listed.py's code) does not fit
# this heap (tests/host/test_ram_budget.py); its resyncs compare the dirty regions
SETTINGS = {"window": 3, "frame_blocks": 8, "chunk_blocks": 8, "listed_max": 0}
SPI = {"id": 1, "sck": 10, "mosi": 11, "miso": 12, "cs": 13, "baudrate": 25000000}
UART = {"id": 0, "tx": 0, "rx": 1, "baudrate": 115200}
