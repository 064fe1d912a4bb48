"""The pair's link key, by default: `sdmirror flash` and `sdmirror emu up` authenticate
every frame (HMAC-SHA256) unless told `--no-key`.

Where the key lives: on each board in its sdmirror.json (the board's flash filesystem), and
on the host in a key file (default ./sdmirror-pair.key, mode 0600; `--key-file`), so the
second board flashed from the same place gets the same key. An emulated pair's key is in
its run directory's sdmirror.json files. To rotate it: flash both boards again with a new
key (`--key HEX`, or delete the key file and flash both). Without a key the link's CRC-32
catches accidents only: anyone who can put bytes on the link can write the secondary's card.
MD5/SHA-1 block checksums protect against accidents too, not attackers.
"""
import os
import secrets

DEFAULT_FILE = "sdmirror-pair.key"
KEY_BYTES = 32
NO_KEY_WARNING = ("no link key (--no-key): frames carry only a CRC-32, so anyone who can reach "
                  "the link can forge writes onto the secondary's card or replay old ones")


class PairKeyError(Exception):
    pass


def add_arguments(p, file_option=True):
    p.add_argument("--key", metavar="HEX", help="shared link key (hex, at least 16 bytes); "
                   "default: a random key for the pair")
    p.add_argument("--no-key", action="store_true",
                   help="no link authentication (frames can then be forged or replayed)")
    if file_option:
        p.add_argument("--key-file", metavar="FILE", default=DEFAULT_FILE,
                       help="where the pair's generated key is kept on this host, so both "
                            "boards get the same one (default ./%s)" % DEFAULT_FILE)


def check_hex(text):
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise PairKeyError("--key must be hexadecimal digits") from None
    if len(key) < 16:
        raise PairKeyError("--key must be at least 16 bytes (32 hex digits), got %d" % len(key))
    return text.lower()


def new_key():
    """A random pair key, as hex."""
    return secrets.token_hex(KEY_BYTES)


def resolve(args):
    """(key hex or None, note to print or None, key file to save it to or None) for the
    options given. With no option: the key file's key, or a new random one to be saved
    there once the board has been reached (save()), so a failed flash leaves no file."""
    if args.no_key:
        if args.key:
            raise PairKeyError("--key and --no-key contradict each other; give one")
        return None, "warning: " + NO_KEY_WARNING, None
    if args.key:
        return check_hex(args.key), None, None
    path = getattr(args, "key_file", None)
    if path is None:
        return new_key(), None, None
    if os.path.exists(path):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError as e:
            raise PairKeyError("cannot read the key file %s: %s" % (path, e.strerror)) from None
        try:
            return check_hex(text), "link key: from %s" % path, None
        except PairKeyError:
            raise PairKeyError("%s does not hold a key (hex, at least 16 bytes): remove it or "
                               "give --key" % path) from None
    return new_key(), "link key: a new random key, kept in %s (flash the " \
        "other board from here, or with --key-file, so it gets the same)" % path, path


def save(path, key):
    """Write a new key file (mode 0600); never overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    except OSError as e:
        raise PairKeyError("cannot write the key file %s: %s" % (path, e.strerror)) from None
