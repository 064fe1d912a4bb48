# The console's fault injection (inject ...) and FAT test commands (fs ...): for test
# benches and demos, not for every boot, so this code is loaded only when one is given
# (console.py), as rolecmds.py is. `con` is the Console.
import binascii
import gc
import hashlib
import random

from console import MAX_FS_BYTES, CommandError


# The console's help (console.py cmd_help), kept here: its text need not be in RAM.
HELP = {
    "help": "this list",
    "version": "firmware and protocol versions",
    "status": "role, link, generation, dirty regions, scan progress, counters",
    "stats": "link and card statistics, free RAM",
    "heap": "RAM: allocated, free and the largest block that can be allocated",
    "scan": "start a full scan now (primary)",
    "bitmap [N]": "dirty-region bitmap folded into N characters",
    "read N": "hex of block N",
    "write N HEX": "write block N (primary: mirrored)",
    "inject FAULT": "link-down|link-up|drop-bitmap|corrupt-block N|reboot|bad-block N|"
                    "card-dead|card-back (needs unlock, unless the board profile sets DIAGNOSTICS)",
    "promote": "secondary, primary gone: lead",
    "demote": "old primary: follow the new one",
    "settle --discard-this-side": "split: this side follows, its changes dropped",
    "attach": "primary, card detached: use the card again (copied from the secondary)",
    "unlock": "allow inject until the next reset",
    "fs mkfs|ls [PATH]|write PATH BYTES [SEED]|read PATH": "FAT filesystem on the volume",
}


def heap(con, args):
    """Allocated and free heap, and the largest block one allocation can still get (free
    RAM in pieces is not RAM for a 4 KiB frame): found by bisection of bytearray sizes,
    each dropped at once, to 16 bytes (the GC's block). A lower bound: a stale pointer to a
    trial block left on the C stack keeps it until the next collection."""
    con._args(args, 0, "heap")
    gc.collect()
    alloc, free = gc.mem_alloc(), gc.mem_free()
    lo, hi = 0, free + 16  # lo can be allocated, hi cannot
    while hi - lo > 16:
        mid = (lo + hi) // 2
        if _fits(mid):
            lo = mid
        else:
            hi = mid
        gc.collect()
    return {"mem_alloc": alloc, "mem_free": free, "largest": lo}


def _fits(n):
    try:
        bytearray(n)  # dropped on return: the frame holds the only reference
    except MemoryError:
        return False
    return True


def inject(con, args):
    if not con.unlocked:
        raise CommandError("fault injection is locked on this board: send unlock first")
    what = args[0] if args else ""
    con._args(args, 1, "inject link-down|link-up|drop-bitmap|corrupt-block N|reboot|"
               "bad-block N|card-dead|card-back",
               2 if what in ("corrupt-block", "bad-block") else 1)
    rt = con.rt
    if what == "link-down":
        rt.link.close(rt.now())
    elif what == "link-up":
        rt.link.enable()
    elif what == "drop-bitmap":
        if rt.node.role != "primary":
            raise CommandError("the bitmap lives on the primary")
        rt.node.bitmap.invalidate()
    elif what == "corrupt-block":
        n = con._int(args[1], "block", 0, rt.node.nblocks - 1)
        buf = bytearray(512)
        rt.card.readblocks(n, buf)
        buf[random.getrandbits(9)] ^= 1 << random.getrandbits(3)
        rt.card.writeblocks(n, buf)  # behind the mirror's back: silent corruption
    elif what in ("bad-block", "card-dead", "card-back"):
        model = getattr(rt.card, "model", None)
        if model is None:
            raise CommandError("%s needs an emulated card (this board has a real one)" %
                               what)
        if what == "bad-block":
            n = con._int(args[1], "block", 0, rt.node.nblocks - 1)
            model.bad.add(n)  # reads fail until the block is written again
        elif what == "card-dead":
            model.remove()
        else:
            model.insert()
            rt.card.init_card()
    elif what == "reboot":
        con.emit({"cmd": "inject", "ok": True})
        import boardkit
        boardkit.reset(con.board)
    else:
        raise CommandError("unknown fault '%s'" % what)
    return {"ok": True, "fault": what}


def _filesystem(con):
    import vfs  # fs() has checked that it is there
    if con._fs is None:
        con._fs = vfs.VfsFat(con.volume)
    return con._fs


def fs(con, args):
    con._args(args, 1, "fs mkfs|ls [PATH]|write PATH BYTES [SEED]|read PATH", 4)
    op = args[0]
    if op not in ("mkfs", "ls", "write", "read"):
        raise CommandError("unknown fs operation '%s'" % op[:40])
    if op == "write":  # the arguments first: nothing is written if one is wrong
        con._args(args, 3, "fs write PATH BYTES [SEED]", 4)
        size = con._int(args[2], "BYTES", 0, MAX_FS_BYTES)
        seed = con._int(args[3], "SEED", 0, 0x3FFFFFFF) if len(args) > 3 else size
    try:
        import vfs
    except ImportError:
        raise CommandError("this MicroPython build has no vfs module (no FAT support)")
    if op != "ls" and op != "read" and con.rt.node.role != "primary":
        raise CommandError("the secondary is read-only; use the primary")
    if op == "mkfs":
        con._args(args, 1, "fs mkfs")
        vfs.VfsFat.mkfs(con.volume)
        con._fs = None
        return {"ok": True}
    vol = _filesystem(con)
    if op == "ls":
        con._args(args, 1, "fs ls [PATH]", 2)
        path = args[1] if len(args) > 1 else "/"
        return {"path": path, "entries": [[e[0], e[3] if len(e) > 3 else 0]
                                          for e in vol.ilistdir(path)]}
    if op == "write":
        random.seed(seed)
        h = hashlib.sha256()
        chunk = bytearray(512)
        with vol.open(args[1], "wb") as f:
            left = size
            while left:
                n = min(512, left)
                for i in range(n):
                    chunk[i] = random.getrandbits(8)
                piece = memoryview(chunk)[:n]
                f.write(piece)
                h.update(piece)
                left -= n
        return {"path": args[1], "bytes": size,
                "sha256": binascii.hexlify(h.digest()).decode()}
    if op == "read":
        con._args(args, 2, "fs read PATH")
        h = hashlib.sha256()
        size = 0
        with vol.open(args[1], "rb") as f:
            while True:
                piece = f.read(512)
                if not piece:
                    break
                h.update(piece)
                size += len(piece)
        return {"path": args[1], "bytes": size,
                "sha256": binascii.hexlify(h.digest()).decode()}
