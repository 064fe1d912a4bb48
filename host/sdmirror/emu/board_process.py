"""One emulated board: a MicroPython Unix VM on a pty, its console relayed to TCP.

``BoardProcess(name, argv_factory, run_dir)`` starts the VM with its stdin/stdout/stderr on the
slave side of a pty and serves the master side on ``socket://127.0.0.1:PORT`` — a URL that
pyserial (``serial.serial_for_url``) and ``mpremote connect`` accept, so host tools reach the
emulated board the way they reach a real one over USB serial.

Board-like behaviour
--------------------
* **Soft reset.** The Unix VM *exits* where a board soft-resets (Ctrl-D at the friendly REPL,
  Ctrl-D on an empty raw-REPL command, SystemExit out of the entry script — see
  ``vm_argv_factory`` —, ``sys.exit()`` typed at the REPL, or a crash).
  Whenever the VM exits and we did not kill it, the relay writes ``MPY: soft reboot\\r\\n`` to
  the console (what boards print; mpremote waits for the ``soft reboot\\r\\n`` suffix) and
  starts the VM again:
    - if the VM was at the friendly REPL or running a program, it is started with the entry
      script (``argv_factory(run_main=True)``), as a board runs ``main.py`` after a reset;
    - if it was in the raw REPL (mpremote's ``enter_raw_repl`` soft-resets there), a board
      stays in the raw REPL and skips ``main.py``: the VM is started without the entry script
      (``argv_factory(run_main=False)``), the relay waits for its ``>>> `` prompt, sends
      Ctrl-A, hides that start-up chatter and lets ``raw REPL; CTRL-B to exit\\r\\n>`` through.
      Client input is held back until then (bounded by ``raw_timeout``).
* **Crash loop.** Exits that the console did not provoke (no console input reached that VM
  instance) count toward ``restart_limit`` within ``restart_window`` seconds; any exits at all
  count toward ``4 * restart_limit`` in that window. Past either limit the board is marked
  ``failed``, a one-line notice goes to the console, and the VM stays down until
  ``power_cycle()``.
* **Power cycle.** ``power_cycle()`` SIGKILLs the VM's process group and starts it again with
  the entry script: RAM is lost, files (the VM's cwd, SD images) stay. No ``soft reboot``
  line; the console connection stays open (as with a USB-UART bridge chip).
* **Line endings.** The VM writes ``\\r\\n`` at the REPL but a bare ``\\n`` for ``print`` in a
  program; boards print ``\\r\\n`` everywhere. With ``crlf=True`` (default) the relay turns a
  ``\\n`` not preceded by ``\\r`` into ``\\r\\n`` on the way out. Input passes unchanged.

Console clients: one at a time; **a new connection replaces the old one** (the old socket is
closed). A host tool that died without closing its socket therefore never locks the console.
Output while no client is connected goes to the log only, like a board printing to an
unconnected UART. All console output (as sent to clients) and emulator events (lines starting
``[emu]``) are appended to ``RUN_DIR/NAME.console.log``.

pty settings (set on the slave before the VM starts; the VM saves them as its "original" mode
and switches to its own raw mode at the REPL prompt): iflag without BRKINT ICRNL INLCR IGNCR
INPCK ISTRIP IXON IXOFF (bytes such as Ctrl-S/Ctrl-Q and CR pass unchanged); oflag without
OPOST (no ``\\n`` -> ``\\r\\n`` translation by the tty, which would double the REPL's
``\\r\\n``); CS8; lflag = ISIG | NOFLSH only (no echo, no canonical line editing — Ctrl-A/B/D/E
reach the VM as bytes — but Ctrl-C while a program runs raises SIGINT ->
KeyboardInterrupt, as on a board; NOFLSH keeps the bytes that follow it); VQUIT and VSUSP
disabled; VMIN=1, VTIME=0. The pty is made the VM's controlling terminal (new session +
TIOCSCTTY) so that SIGINT reaches it.
"""
import collections
import errno
import fcntl
import os
import select
import signal
import socket
import subprocess
import termios
import threading
import time

from .control import close_quietly, wake

HOST = "127.0.0.1"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARKERS = (b">>> ", b'Type "help()" for more information.')
TICK = 0.05
CLIENT_BUF_MAX = 1 << 20      # output for a client that does not read; beyond it, dropped
VM_BUF_MAX = 1 << 16          # input waiting for the VM; beyond it, the client is not read


BOOT_CODE = """\
import os as _emu_os
try:
    execfile(%r)
except SystemExit:
    _emu_os.system("kill -TERM $PPID")
    import time
    time.sleep(10)
"""


def vm_argv_factory(micropython, entry=None, heap=None, inspect=True, extra_args=(),
                    exit_is_reset=True):
    """argv factory for BoardProcess.

    ``run_main=True`` gives ``micropython [-X heapsize=HEAP] -i -c BOOT`` where BOOT runs ENTRY
    with ``execfile`` in ``__main__``'s globals, as a board runs ``main.py``: when it returns or
    raises, the REPL follows (``-i``, the globals stay visible); when it raises SystemExit
    (``sys.exit()``, ``machine.soft_reset()``) the VM ends itself (SIGTERM to its own process),
    which the relay turns into a soft reboot — the board behaviour, which ``-i ENTRY`` alone
    cannot give (the Unix VM drops into the REPL on SystemExit under ``-i``).
    ``exit_is_reset=False`` runs ``micropython [-X heapsize=HEAP] [-i] ENTRY`` instead
    (``inspect`` chooses ``-i``). ``run_main=False`` (after a soft reset in the raw REPL) gives
    the VM without the entry: a bare REPL.
    """
    base = [str(micropython)]
    if heap:
        base += ["-X", "heapsize=%s" % heap]
    base += list(extra_args)

    def factory(run_main=True):
        if not (run_main and entry):
            return list(base)
        if exit_is_reset:
            return base + ["-i", "-c", BOOT_CODE % os.path.abspath(str(entry))]
        return base + (["-i"] if inspect else []) + [str(entry)]
    return factory


def board_termios(fd):
    """Put the pty slave in the mode described in the module docstring."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    iflag &= ~(termios.BRKINT | termios.ICRNL | termios.INLCR | termios.IGNCR | termios.INPCK
               | termios.ISTRIP | termios.IXON | termios.IXOFF)
    oflag &= ~termios.OPOST
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    lflag = termios.ISIG | termios.NOFLSH
    cc = list(cc)
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    cc[termios.VINTR] = 3
    cc[termios.VQUIT] = 0
    cc[termios.VSUSP] = 0
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])


def _make_ctty():  # runs in the child between fork and exec: builtins only
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _killpg(pid, sig=signal.SIGKILL):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class BoardProcess:
    """A MicroPython VM on a pty whose console is served on 127.0.0.1:port (see module doc)."""

    def __init__(self, name, argv_factory, run_dir, console_port=0, env=None, cwd=None,
                 crlf=True, restart_limit=5, restart_window=10.0, raw_timeout=5.0):
        self.name = name
        if callable(argv_factory):
            self._argv = argv_factory
        else:
            fixed = list(argv_factory)
            self._argv = lambda run_main=True: list(fixed)
        self.run_dir = os.path.abspath(run_dir)
        self.cwd = os.path.abspath(cwd) if cwd else os.path.join(self.run_dir, name)
        self.env = dict(os.environ if env is None else env)
        self.crlf = crlf
        self.restart_limit = int(restart_limit)
        self.restart_window = float(restart_window)
        self.raw_timeout = float(raw_timeout)
        self.log_path = os.path.join(self.run_dir, "%s.console.log" % name)
        self._want_port = console_port
        self.port = None
        self.state = "stopped"          # running | failed | stopped
        self.restarts = 0               # VM restarts after an exit (soft resets, crashes)
        self.power_cycles = 0
        self.last_exit = None           # return code of the last VM exit
        self.failure = None
        self._proc = None
        self._master = None
        self._listener = None
        self._client = None
        self._to_client = bytearray()
        self._to_vm = bytearray()
        self._hold_input = False
        self._raw_phase = None          # None | "prompt" | "banner"
        self._raw_deadline = 0.0
        self._boot_buf = bytearray()
        self._in_raw = False
        self._tail = b""
        self._last_out = b""
        self._provoked = False
        self._exits = collections.deque()   # (time, provoked)
        self._log = None
        self._requests = collections.deque()
        self._wake_r = self._wake_w = None
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.client_connects = 0
        self.dropped_output = 0

    # ------------------------------------------------------------------ public API
    @property
    def url(self):
        return "socket://%s:%d" % (HOST, self.port) if self.port else None

    @property
    def pid(self):
        p = self._proc
        return p.pid if p is not None and p.poll() is None else None

    def start(self):
        os.makedirs(self.cwd, exist_ok=True)
        os.makedirs(self.run_dir, exist_ok=True)
        self._log = open(self.log_path, "ab", buffering=0)
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((HOST, self._want_port))
        lst.listen(4)
        lst.setblocking(False)
        self._listener = lst
        self.port = lst.getsockname()[1]
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._event("start, console %s" % self.url)
        self._spawn(run_main=True)
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="board-%s" % self.name, daemon=True)
        self._thread.start()
        return self

    def power_cycle(self, timeout=5.0):
        """Kill the VM (SIGKILL) and start it again with the entry script."""
        return self._request("power_cycle", timeout)

    def stop(self, timeout=5.0):
        """Kill the VM and close the console. Safe to call twice."""
        if self._thread is None:
            self._kill_vm()
            return
        self._request("stop", timeout)
        self._stop.set()
        self._wake()
        self._thread.join(timeout)
        self._thread = None
        self._kill_vm()
        close_quietly(self._client, self._listener, self._wake_r, self._wake_w)
        self._client = self._listener = None
        self._wake_r = self._wake_w = None
        if self._log is not None:
            try:
                self._log.close()
            except OSError:
                pass
            self._log = None
        self.state = "stopped"

    def info(self):
        return {"name": self.name, "state": self.state, "pid": self.pid, "port": self.port,
                "url": self.url, "restarts": self.restarts, "power_cycles": self.power_cycles,
                "last_exit": self.last_exit, "failure": self.failure, "cwd": self.cwd,
                "log": self.log_path, "raw_repl": self._in_raw,
                "client_connected": self._client is not None,
                "client_connects": self.client_connects}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ requests
    def _request(self, what, timeout):
        if self._thread is None or not self._thread.is_alive():
            if what == "power_cycle":
                raise RuntimeError("board %s is not running" % self.name)
            return None
        done = threading.Event()
        box = {}
        self._requests.append((what, done, box))
        self._wake()
        if not done.wait(timeout):
            raise RuntimeError("board %s: %s timed out" % (self.name, what))
        if "error" in box:
            raise RuntimeError(box["error"])
        return box.get("result")

    def _wake(self):
        wake(self._wake_w)

    # ------------------------------------------------------------------ VM process
    def _spawn(self, run_main):
        argv = self._argv(run_main=run_main)
        shown = " ".join(a if "\n" not in a else "<boot code>" for a in argv)
        master, slave = os.openpty()
        try:
            board_termios(slave)
            self._proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, cwd=self.cwd, env=self.env,
                close_fds=True, start_new_session=True, preexec_fn=_make_ctty)
        except Exception:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self._provoked = False
        self._tail = b""
        self._in_raw = False
        self._event("vm pid %d: %s" % (self._proc.pid, shown))

    def _kill_vm(self):
        p = self._proc
        if p is not None:
            if p.poll() is None:
                _killpg(p.pid)
            try:
                p.wait(3.0)
            except subprocess.TimeoutExpired:
                pass
            _killpg(p.pid)   # whatever the VM left in its process group
        self._drain_master()
        self._close_master()

    def _close_master(self):
        if self._master is not None:
            try:
                os.close(self._master)
            except OSError:
                pass
            self._master = None

    def _drain_master(self):
        for _ in range(64):   # bounded: at most 64 * 4 KB of late output
            if self._master is None:
                return
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            self._from_vm(data)

    def _on_exit(self):
        """The VM exited and we did not kill it: soft reboot (or give up on a crash loop)."""
        rc = self._proc.returncode
        self._drain_master()
        self._close_master()
        self.last_exit = rc
        was_raw = self._in_raw
        self._event("vm exited rc=%s%s" % (rc, " (raw REPL)" if was_raw else ""))
        now = time.monotonic()
        self._exits.append((now, self._provoked))
        while self._exits and now - self._exits[0][0] > self.restart_window:
            self._exits.popleft()
        unprovoked = sum(1 for _, prov in self._exits if not prov)
        if unprovoked > self.restart_limit or len(self._exits) > 4 * self.restart_limit:
            self.state = "failed"
            self.failure = ("VM exited %d times in %.0f s (last rc=%s); not restarting"
                            % (len(self._exits), self.restart_window, rc))
            self._proc = None
            self._emit(("\r\n[emu] %s: %s (power-cycle to retry)\r\n"
                        % (self.name, self.failure)).encode())
            self._to_vm.clear()
            return
        self._emit(SOFT_REBOOT)
        self.restarts += 1
        try:
            self._spawn(run_main=not was_raw)
        except OSError as e:
            self.state = "failed"
            self.failure = "cannot start VM: %s" % e
            self._proc = None
            self._event(self.failure)
            return
        if was_raw:
            self._hold_input = True
            self._raw_phase = "prompt"
            self._raw_deadline = time.monotonic() + self.raw_timeout
            self._boot_buf = bytearray()

    def _power_cycle(self):
        self._event("power cycle")
        self._kill_vm()
        self._reset_session()
        self.power_cycles += 1
        self.failure = None
        self._exits.clear()
        self._spawn(run_main=True)
        self.state = "running"

    def _reset_session(self):
        self._raw_phase = None
        self._hold_input = False
        self._boot_buf = bytearray()
        self._to_vm.clear()
        self._last_out = b""

    # ------------------------------------------------------------------ output path
    def _event(self, text):
        if self._log is not None:
            try:
                self._log.write(("\r\n[emu] %s %s: %s\r\n" % (
                    time.strftime("%H:%M:%S"), self.name, text)).encode())
            except OSError:
                pass

    def _emit(self, data):
        """Bytes for the console client (and the log)."""
        if not data:
            return
        if self._log is not None:
            try:
                self._log.write(data)
            except OSError:
                pass
        if self._client is None:
            return
        room = CLIENT_BUF_MAX - len(self._to_client)
        if len(data) > room:
            self.dropped_output += len(data) - max(room, 0)
            data = data[:max(room, 0)]
        self._to_client += data

    def _cook(self, data):
        if not self.crlf:
            return data
        prefix = b""
        if self._last_out == b"\r" and data[:1] == b"\n":
            prefix, data = b"\n", data[1:]
        out = prefix + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self._last_out = data[-1:] if data else self._last_out
        return out

    def _track_mode(self, data):
        buf = self._tail + data
        raw_at = buf.rfind(RAW_BANNER[:-2])
        friendly_at = max(buf.rfind(m) for m in FRIENDLY_MARKERS)
        if raw_at >= 0 or friendly_at >= 0:
            self._in_raw = raw_at > friendly_at
        self._tail = buf[-48:]

    def _from_vm(self, data):
        self._track_mode(data)
        if self._raw_phase is None:
            self._emit(self._cook(data))
            return
        self._boot_buf += data
        if self._raw_phase == "prompt" and b">>> " in self._boot_buf:
            self._boot_buf = bytearray()
            self._raw_phase = "banner"
            self._write_vm_now(b"\x01")
        elif self._raw_phase == "banner":
            i = self._boot_buf.find(RAW_BANNER)
            if i >= 0:
                rest = bytes(self._boot_buf[i:])
                self._boot_buf = bytearray()
                self._raw_phase = None
                self._hold_input = False
                self._last_out = b""
                self._emit(self._cook(rest))
        if len(self._boot_buf) > 65536:
            self._raw_timeout_expired()

    def _raw_timeout_expired(self):
        self._event("no raw REPL after soft reboot; passing output through")
        buf = bytes(self._boot_buf)
        self._boot_buf = bytearray()
        self._raw_phase = None
        self._hold_input = False
        self._emit(self._cook(buf))

    def _write_vm_now(self, data):
        if self._master is None:
            return
        try:
            os.write(self._master, data)
        except OSError:
            pass

    # ------------------------------------------------------------------ relay loop
    def _accept(self):
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        if self._client is not None:
            self._event("console client replaced by a new connection")
            try:
                self._client.close()
            except OSError:
                pass
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = conn
        self._to_client = bytearray()
        self.client_connects += 1

    def _drop_client(self):
        if self._client is not None:
            try:
                self._client.close()
            except OSError:
                pass
        self._client = None
        self._to_client = bytearray()

    def _serve_requests(self):
        while self._requests:
            what, done, box = self._requests.popleft()
            try:
                if what == "power_cycle":
                    self._power_cycle()
                    box["result"] = self.info()
                elif what == "stop":
                    self.state = "stopped"
                    self._kill_vm()
                    self._proc = None
            except Exception as e:  # reported to the caller of power_cycle/stop
                box["error"] = "board %s: %s failed: %s" % (self.name, what, e)
            done.set()
            if what == "stop":
                self._stop.set()

    def _run(self):
        try:
            self._loop()
        except Exception as e:  # keep a record; the supervisor sees state == failed
            self.state = "failed"
            self.failure = "relay error: %r" % (e,)
            self._event(self.failure)
        finally:
            while self._requests:   # never leave a caller waiting
                _, done, box = self._requests.popleft()
                box.setdefault("error", "board %s relay stopped" % self.name)
                done.set()

    def _loop(self):
        while not self._stop.is_set():
            self._serve_requests()
            if self._stop.is_set():
                break
            rlist = [self._wake_r, self._listener]
            wlist = []
            if self._master is not None:
                rlist.append(self._master)
                if self._to_vm and not self._hold_input:
                    wlist.append(self._master)
            if self._client is not None:
                if len(self._to_vm) < VM_BUF_MAX:
                    rlist.append(self._client)
                if self._to_client:
                    wlist.append(self._client)
            try:
                r, w, _ = select.select(rlist, wlist, [], TICK)
            except (OSError, ValueError):
                r, w = [], []
            if self._wake_r in r:
                try:
                    os.read(self._wake_r, 4096)
                except OSError:
                    pass
            if self._listener in r:
                self._accept()
            if self._master is not None and self._master in r:
                try:
                    data = os.read(self._master, 4096)
                except BlockingIOError:
                    data = None
                except OSError as e:   # EIO: the VM closed the slave (it is exiting)
                    data = None if e.errno == errno.EAGAIN else b""
                if data:
                    self._from_vm(data)
            if self._client is not None and self._client in r:
                try:
                    data = self._client.recv(4096)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    self._drop_client()
                elif data:
                    if self.state == "running":
                        self._to_vm += data
            if self._master is not None and self._master in w and self._to_vm and not self._hold_input:
                try:
                    n = os.write(self._master, bytes(self._to_vm[:4096]))
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    n = 0
                if n:
                    del self._to_vm[:n]
                    self._provoked = True
            if self._client is not None and self._to_client:
                try:
                    n = self._client.send(bytes(self._to_client[:65536]))
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    self._drop_client()
                    n = 0
                if n:
                    del self._to_client[:n]
            if self._raw_phase is not None and time.monotonic() > self._raw_deadline:
                self._raw_timeout_expired()
            if self._proc is not None and self.state == "running" and self._proc.poll() is not None:
                self._on_exit()
