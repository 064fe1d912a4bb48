# Boot: read the board profile (board.py) and the pair settings (sdmirror.json), build the
# controller for this board's role, and run it with the line console. Ctrl-C stops it and
# leaves the REPL.
#
# Every import but sys happens inside main()'s guard: a board whose MicroPython build lacks
# a module (or a frozen firmware it expects) prints {"event": "fatal", "detail": ...} and
# gives the REPL instead of dying with a bare traceback.
#
# RAM: a 32-bit board's heap fragments while modules load (each import leaves bytecode,
# qstrs and small objects scattered through it), and the controller's big buffers then find
# no block large enough although plenty is free. So the boot goes in stages with a
# gc.collect() between them, and builds the controller (its buffers: window slots, bitmaps,
# span digests) right after the modules it needs, before the console and the card's
# filesystem are touched. The boot event reports the heap it left (alloc, free).
import sys

SETTINGS_FILE = "sdmirror.json"


def load_settings(json):
    try:
        with open(SETTINGS_FILE) as f:
            return json.load(f)
    except OSError:
        return {}


def build(board, conf):
    import gc
    import boardkit
    from mirror.config import Config
    settings = dict(board.SETTINGS)
    settings["link_rate"] = boardkit.link_rate(board)
    settings["framing"] = boardkit.framing(board)
    settings.update(conf.get("settings", {}))
    if conf.get("key"):
        import binascii
        settings["key"] = binascii.unhexlify(conf["key"])
    boardkit.check_port(board)
    role = boardkit.role(board, conf)
    cfg = Config(role=role, **settings)
    # the link keeps its configured direction (on TCP the secondary listens) whatever the
    # role an operator has given the board since
    link_role = conf.get("role") or role
    if role == "primary":
        from mirror.primary import Primary as cls
    else:
        from mirror.secondary import Secondary as cls
    from runtime import Runtime
    gc.collect()
    boardkit.register_engines(board)  # before the node: it takes its engine at construction
    gc.collect()
    card = boardkit.card(board, role=role)
    gc.collect()
    link = boardkit.link(board, dict(conf, role=link_role))
    gc.collect()
    rt = Runtime(cls, cfg, card, link, boardkit.entropy(board))  # the big buffers
    gc.collect()
    return rt


def fatal(out, e):
    detail = "%s: %s" % (type(e).__name__, e)
    out.write('{"event": "fatal", "detail": "%s"}\n' % detail.replace("\\", "/").replace('"', "'"))


def main():
    out = sys.stdout
    try:
        import gc
        import json
        import board
        gc.collect()
        rt = build(board, load_settings(json))
        from console import VERSION, Console
        from mirror.volume import MirroredVolume
        volume = MirroredVolume(rt.node, rt) if rt.node.role == "primary" else rt.card
        con = Console(rt, board, volume, sys.stdin.buffer if hasattr(sys.stdin, "buffer")
                      else sys.stdin, out)
        gc.collect()
    except Exception as e:  # a board that cannot start says why, then gives the REPL
        fatal(out, e)
        return
    rt.on_event = con.event
    import boardkit
    con.on_role = boardkit.save_role
    con.emit({"event": "boot", "detail": {
        "role": rt.node.role, "board": board.NAME, "version": VERSION,
        "blocks": rt.node.nblocks, "heap": {"alloc": gc.mem_alloc(), "free": gc.mem_free()}}})
    rt.start(con)
    try:
        rt.run_guarded(lambda detail: con.event("fatal", detail))
    except KeyboardInterrupt:
        out.write("\nsdmirror stopped; MicroPython REPL follows\n")
    except MemoryError:
        import boardkit
        boardkit.reset(board)


main()
