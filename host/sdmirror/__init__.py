"""sdmirror host tools: CLI, serial console client, flasher, emulator, simulator."""
__version__ = "0.1.0"
