# The sdmirror firmware as a board's MicroPython build freezes it: every board's manifest.py
# include()s this file (paths are relative to it). The boot script (main.py) and the board
# profile stay on the filesystem; host/sdmirror/firmware_image.py leaves out of a frozen
# profile's image exactly what is frozen here and in the board's own manifest.
package("mirror", base_path="../firmware")
package("drivers", base_path="../firmware")
module("runtime.py", base_path="../firmware")
module("console.py", base_path="../firmware")
module("rolecmds.py", base_path="../firmware")
module("cardcmds.py", base_path="../firmware")
module("failedcard.py", base_path="../firmware")
module("diagcmds.py", base_path="../firmware")
module("boardkit.py", base_path="../firmware")
module("kernelsrc.py", base_path="../firmware")  # cobs's fallback where native code cannot load
