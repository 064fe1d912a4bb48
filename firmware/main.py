# Boot: read the board profile (board.py) and the pair settings (sdmirror.json), build the
# controller for this board's role, and run it with the line console. Ctrl-C stops it and
# leaves the REPL.
import json
import sys

import board
import boardkit
from console import VERSION, Console
from mirror.config import Config
from mirror.volume import MirroredVolume
from runtime import Runtime

SETTINGS_FILE = "sdmirror.json"


def load_settings():
    try:
        with open(SETTINGS_FILE) as f:
            return json.load(f)
    except OSError:
        return {}


def build(conf):
    settings = dict(board.SETTINGS)
    settings["link_rate"] = boardkit.link_rate(board)
    settings.update(conf.get("settings", {}))
    if conf.get("key"):
        import binascii
        settings["key"] = binascii.unhexlify(conf["key"])
    role = boardkit.role(board, conf)
    boardkit.register_engines(board)
    cfg = Config(role=role, **settings)
    if role == "primary":
        from mirror.primary import Primary as cls
    else:
        from mirror.secondary import Secondary as cls
    card = boardkit.card(board)
    return Runtime(cls, cfg, card, boardkit.link(board, dict(conf, role=role)),
                   boardkit.entropy(board))


def main():
    out = sys.stdout
    try:
        rt = build(load_settings())
    except Exception as e:  # a board that cannot start says why, then gives the REPL
        out.write(json.dumps({"event": "fatal", "detail": "%s: %s" % (type(e).__name__, e)}))
        out.write("\n")
        return
    volume = MirroredVolume(rt.node, rt) if rt.node.role == "primary" else rt.card
    con = Console(rt, board, volume, sys.stdin.buffer if hasattr(sys.stdin, "buffer")
                  else sys.stdin, out)
    rt.on_event = con.event
    con.emit({"event": "boot", "detail": {"role": rt.node.role, "board": board.NAME,
                                          "version": VERSION, "blocks": rt.node.nblocks}})
    rt.start(con)
    try:
        rt.run_guarded(lambda detail: con.event("fatal", detail))
    except KeyboardInterrupt:
        out.write("\nsdmirror stopped; MicroPython REPL follows\n")
    except MemoryError:
        boardkit.reset(board)


main()
