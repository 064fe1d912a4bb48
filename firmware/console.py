# The line console: one command per line in, one JSON object per line out. Replies carry
# "cmd" (the command word); unsolicited lines carry "event". Ctrl-C (0x03) stops the
# firmware and leaves the REPL, as on any MicroPython board.
import binascii
import gc
import json

VERSION = "0.1.0"
PROTOCOL = 1



# The commands (cmd_NAME below). A line's first word is looked up here before anything
# else: MicroPython's getattr would raise on a name over ~250 characters (a qstr limit).
COMMANDS = ("help", "version", "status", "stats", "heap", "scan", "bitmap", "read", "write",
            "inject", "unlock", "promote", "demote", "settle", "attach", "fs")
MAX_LINE = 2200  # the longest command: write N HEX of a whole block
MAX_FS_BYTES = 1 << 24  # fs write: enough for any test file, bounded so one line ends


class CommandError(Exception):
    pass


class Console:
    def __init__(self, runtime, board, volume, stream, out):
        self.rt = runtime
        self.board = board
        self.volume = volume
        self.stream = stream
        self.out = out
        self._line = bytearray()
        self._overflow = False
        self._fs = None
        self.on_role = None  # called with the new role after promote/demote/settle (main.py)
        # fault injection is for test benches: an emulated board allows it, a real one
        # only after `unlock` (a stray line must not corrupt a card)
        self.unlocked = bool(getattr(board, "DIAGNOSTICS", False))
        self.internal_errors = 0  # commands that raised what no check foresaw (a bug)

    def emit(self, obj):
        self.out.write(json.dumps(obj))
        self.out.write("\n")

    def event(self, name, detail):
        self.emit({"event": name, "detail": detail})

    def feed(self):
        """Read what the console has (one byte per poll: consoles are slow)."""
        b = self.stream.read(1)
        if not b:
            return
        c = b[0] if isinstance(b, (bytes, bytearray)) else ord(b)
        if c == 3:
            raise KeyboardInterrupt
        if c in (10, 13):
            raw = bytes(self._line)
            overflow = self._overflow
            self._line = bytearray()
            self._overflow = False
            if overflow:
                self.emit({"cmd": "?", "error": "line longer than %d bytes: ignored" % MAX_LINE})
                return
            try:
                line = raw.decode().strip()
            except UnicodeError:
                self.emit({"cmd": "?", "error": "line is not UTF-8 text: ignored"})
                return
            if line:
                self.command(line)
        elif len(self._line) < MAX_LINE:
            self._line.append(c)
        else:
            self._overflow = True

    def command(self, line):
        words = line.split()
        if not words:
            return
        name = words[0]
        if name not in COMMANDS:
            self.emit({"cmd": name[:40], "error": "unknown command '%s'; try help" %
                       (name if len(name) <= 40 else name[:40] + "...")})
            return
        try:
            reply = getattr(self, "cmd_" + name)(words[1:])
        except CommandError as e:
            reply = {"error": str(e)}
        except (OSError, ValueError) as e:
            reply = {"error": "%s failed: %s" % (name, e)}
        except Exception as e:  # noqa: no line may stop the board; counted, it is a bug
            self.internal_errors += 1
            reply = {"error": "%s failed: %s: %s" % (name, type(e).__name__, e)}
        reply["cmd"] = name
        self.emit(reply)

    def _int(self, word, what, lo=None, hi=None):
        try:
            v = int(word)
        except ValueError:
            raise CommandError("%s must be a number, not '%s'" % (what, word[:40]))
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise CommandError("%s must be from %s to %s, not %d" % (what, lo, hi, v))
        return v

    def _args(self, args, n, usage, most=None):
        """At least n arguments, at most `most` (default: exactly n)."""
        if len(args) < n or len(args) > (n if most is None else most):
            raise CommandError("usage: " + usage)

    # -- commands --------------------------------------------------------------------
    def cmd_help(self, args):
        self._args(args, 0, "help")
        import diagcmds  # the help text: loaded when asked for, not kept in RAM
        return {"commands": diagcmds.HELP}

    def cmd_version(self, args):
        self._args(args, 0, "version")
        return {"version": VERSION, "protocol": PROTOCOL, "board": self.board.NAME}

    def cmd_status(self, args):
        self._args(args, 0, "status")
        s = self.rt.node.status()
        s["board"] = self.board.NAME
        s["version"] = VERSION
        return s

    def cmd_stats(self, args):
        self._args(args, 0, "stats")
        gc.collect()
        s = {"link": self.rt.node.status()["link_stats"], "mem_free": gc.mem_free(),
             "mem_alloc": gc.mem_alloc()}
        card_stats = getattr(self.rt.card, "stats", None)
        if card_stats is not None:
            s["card"] = card_stats()
        return s

    def cmd_heap(self, args):
        import diagcmds
        return diagcmds.heap(self, args)

    def cmd_scan(self, args):
        self._args(args, 0, "scan")
        node = self.rt.node
        if node.role != "primary":
            raise CommandError("scans are started by the primary; run scan there")
        node.request_scan()
        return {"ok": True}

    def cmd_bitmap(self, args):
        node = self.rt.node
        if node.role != "primary":
            raise CommandError("the bitmap lives on the primary")
        self._args(args, 0, "bitmap [N]", 1)
        width = self._int(args[0], "width", 1, 256) if args else 64
        bm = node.bitmap
        strip = bytearray(b"." * width)
        r = bm.next_dirty(0)
        while r >= 0:
            strip[r * width // bm.nregions] = ord("#")
            r = bm.next_dirty(r + 1)
        return {"nregions": bm.nregions, "region_blocks": bm.region_blocks,
                "dirty": bm.count(), "valid": bm.valid, "strip": strip.decode()}

    def cmd_read(self, args):
        self._args(args, 1, "read N")
        n = self._int(args[0], "block", 0, self.rt.node.nblocks - 1)
        buf = bytearray(512)
        self.volume.readblocks(n, buf)
        return {"block": n, "hex": binascii.hexlify(buf).decode()}

    def cmd_write(self, args):
        self._args(args, 2, "write N HEX")
        if self.rt.node.role != "primary":
            raise CommandError("the secondary is read-only; write on the primary")
        n = self._int(args[0], "block", 0, self.rt.node.nblocks - 1)
        try:
            data = binascii.unhexlify(args[1])
        except ValueError:
            raise CommandError("HEX must be hexadecimal digits")
        if len(data) > 512:
            raise CommandError("HEX is longer than one block (512 bytes)")
        buf = bytearray(512)
        buf[:len(data)] = data
        self.volume.writeblocks(n, buf)
        return {"block": n, "ok": True}

    def cmd_unlock(self, args):
        self._args(args, 0, "unlock")
        self.unlocked = True
        return {"ok": True, "unlocked": True}

    # -- fault injection and the FAT commands: diagcmds.py, loaded when first used (RAM)
    def cmd_inject(self, args):
        import diagcmds
        return diagcmds.inject(self, args)

    # -- role changes: rolecmds.py, loaded when first used (RAM) -------------------------
    # (each answers itself, then resets the board: it does not return)
    def cmd_promote(self, args):
        import rolecmds
        rolecmds.promote(self)

    def cmd_demote(self, args):
        import rolecmds
        rolecmds.demote(self)

    def cmd_settle(self, args):
        import rolecmds
        rolecmds.settle(self, args)

    def cmd_attach(self, args):
        import cardcmds  # rare: loaded when first used (RAM), as rolecmds.py
        return cardcmds.attach(self, args)

    def cmd_fs(self, args):
        import diagcmds
        return diagcmds.fs(self, args)
