"""A small grammar check of the Renode files (boards/renode/*.repl, *.resc, tests/renode/*.robot)
that nothing here can run: each line must be of a form Renode (or Robot Framework) takes, and
every name it uses must exist, in the repository or in boards/renode/renode_names.json (the
names of Renode's platforms, peripheral types, monitor commands and robot keywords, each
with the file of Renode's source it was checked in).

It checks the subset of the three languages these files use, not all of them: a line it does
not understand is an error, so growing the files means growing this check (and the data).

    python -m sdmirror.renode_check [FILE...]    # default: the repository's Renode files
"""
import json
import os
import re
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = os.path.join(ROOT, "boards", "renode", "renode_names.json")

_ENTRY = re.compile(r"^([A-Za-z_]\w*):\s*(?:([A-Za-z_][\w.]*)\s*)?(?:@\s*(\S.*?))?\s*$")
_ATTR = re.compile(r"^([A-Za-z_]\w*):\s*(.*)$")
_CONN = re.compile(r"^(\d+|\[\d+-\d+\])?\s*->\s*([A-Za-z_]\w*)(?:#\d+)?@(\d+|\[\d+-\d+\])$")
_VAR_ASSIGN = re.compile(r"^\$([A-Za-z_]\w*)\s*(\?=|=)\s*(.+)$")
_MONITOR_VAR = re.compile(r"\$([A-Za-z_]\w*)")
_ROBOT_VAR = re.compile(r"[$@&]\{([^}]+)\}")
_ROBOT_SETTINGS = ("[Arguments]", "[Tags]", "[Documentation]", "[Setup]", "[Teardown]",
                   "[Timeout]")
_ROBOT_SECTIONS = ("Settings", "Variables", "Keywords", "Test Cases", "Comments")
_ROBOT_BUILTIN_VARS = ("CURDIR", "EMPTY", "SPACE", "TEST_NAME", "SUITE_NAME", "TEMPDIR",
                       "OUTPUT_DIR", "True", "False", "None")


class Problems:
    def __init__(self):
        self.items = []

    def add(self, path, line, text):
        self.items.append("%s:%d: %s" % (os.path.relpath(path, ROOT), line, text))


def load_names(path=NAMES):
    with open(path) as f:
        return json.load(f)


# -- .repl ------------------------------------------------------------------------------

class Platform:
    """What a .repl chain defines: peripheral names, their types, where they register."""

    def __init__(self):
        self.types = {}      # name -> type ("" when unknown: a platform file's own)
        self.parent = {}     # name -> the peripheral it registers at


def _strip_repl_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return [re.sub(r"//.*$", "", ln).rstrip() for ln in text.split("\n")]


def _use_platform(name, names, plat):
    known = names["platforms"].get(name)
    if known is None:
        return False
    for sub in known.get("using", ()):
        _use_platform(sub, names, plat)
    for p in known["peripherals"]:
        plat.types.setdefault(p, names.get("peripheral_types", {}).get(p, ""))
    return True


def check_repl(path, names, problems, plat=None):
    plat = plat or Platform()
    entry = None  # (name, type) of the entry indented lines belong to
    init_indent = None
    pending = []  # (line, target) connections checked once the file is read
    for no, line in enumerate(_strip_repl_comments(open(path).read()), 1):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            init_indent = None
            m = re.match(r'^using\s+"([^"]+)"$', text)
            if m:
                entry = None
                target = m.group(1)
                local = os.path.join(os.path.dirname(path), target)
                if not _use_platform(target, names, plat):
                    if os.path.isfile(local):
                        check_repl(local, names, problems, plat)
                    else:
                        problems.add(path, no, "using %s: not a file here nor a Renode "
                                     "platform in renode_names.json" % target)
                continue
            m = _ENTRY.match(text)
            if not m:
                problems.add(path, no, "not a peripheral entry: %s" % text)
                entry = None
                continue
            name, kind, reg = m.groups()
            if kind is None and name not in plat.types:
                problems.add(path, no, "%s updates a peripheral the platform does not have" % name)
            if kind is not None and kind not in names["types"]:
                problems.add(path, no, "unknown peripheral type %s (not in renode_names.json)" % kind)
            if reg is not None:
                at = reg.split()[0].rstrip(";")
                if at != "sysbus" and at not in plat.types:
                    problems.add(path, no, "%s registers at %s, which is not defined" % (name, at))
                plat.parent[name] = at
            if kind is not None or name not in plat.types:
                plat.types[name] = kind or ""
            entry = (name, plat.types[name])
            continue
        if entry is None:
            problems.add(path, no, "indented line outside an entry")
            continue
        if init_indent is not None and indent > init_indent:
            method = text.split()[0]
            methods = names["types"].get(entry[1], {}).get("methods", ())
            if method not in methods:
                problems.add(path, no, "%s has no init method %s (renode_names.json)" % (
                    entry[0], method))
            continue
        init_indent = None
        m = _CONN.match(text)
        if m:
            pending.append((no, m.group(2)))
            continue
        m = _ATTR.match(text)
        if m:
            if m.group(1) == "init" and not m.group(2):
                init_indent = indent
            elif not m.group(2):
                problems.add(path, no, "attribute %s has no value" % m.group(1))
            continue
        problems.add(path, no, "not an attribute, init block or connection: %s" % text)
    for no, target in pending:
        if target not in plat.types:
            problems.add(path, no, "connection to %s, which is not defined" % target)
    return plat


# -- .resc (and the monitor commands a robot file sends) -----------------------------------

# Renode's monitor tokenizer, in its order (renode-infrastructure
# src/Emulator/Extensions/UserInterface/Tokenizer/Tokenizer.cs): a command line must be a
# sequence of these. A path needs its @ (a bare /path is not a token).
_MONITOR_TOKENS = [re.compile(p, f) for p, f in (
    (r"\#.*", 0), (r"`.*?`", 0), (r"\$([0-9]|(?i:[a-z])|_|\.)+", 0), (r"\[", 0), (r"\]", 0),
    (r'""".+?"""', re.S), (r'"""', 0), (r"'[^'\\]*(?:\\.[^'\\]*)*'", 0),
    (r'"[^"\\]*(?:\\.[^"\\]*)*"', 0),
    (r"<\s*((0x([0-9]|(?i:[a-f]))+)|([+-]?\d+))\s*,\s*((0x([0-9]|(?i:[a-f]))+)|([+-]?\d+))\s*>", 0),
    (r"<\s*((0x([0-9]|(?i:[a-f]))+)|([+-]?\d+))\s+((0x([0-9]|(?i:[a-f]))+)|(\+?\d+))\s*>", 0),
    (r"\@(?:(?!;)((\\ )|\S))+", 0), (r"0x([0-9]|(?i:[a-f]))+", 0),
    (r"(([0-9]+:)?[0-9]+:)[0-9]+(\.[0-9]+)?", 0), (r"[+-]?((\d+\.(\d*)?(e[+-]?\d+)?))", 0),
    (r"[+-]?\d+(e[+-]?\d+)?", 0), (r"(true|false|True|False)", 0), (r"null", 0), (r"=", 0),
    (r"\?=", 0), (r"\;", 0), (r",", 0), (r"[\w\.\-\?][\w\.\-\?:]*", 0), (r"\s+", 0), (r":.*", 0))]


def untokenizable(line):
    """The rest of the line from the first place Renode's tokenizer matches nothing, or None."""
    i = 0
    while i < len(line):
        for tok in _MONITOR_TOKENS:
            m = tok.match(line, i)
            if m and m.end() > i:
                # $VAR/x: when tokenizing stops right after a variable, Monitor.Tokenize
                # expands it and tokenizes again (Monitor.cs), so $ORIGIN/file.repl is a path
                if tok.pattern.startswith("\\$") and line.startswith("/", m.end()):
                    i = len(line) if " " not in line[m.end():] else line.index(" ", m.end())
                else:
                    i = m.end()
                break
        else:
            return line[i:]
    return None

class Monitor:
    """State a script builds: variables, machines and their platforms, hubs, terminals."""

    def __init__(self):
        self.vars = {"ORIGIN"}
        self.machines = {}   # name -> Platform
        self.current = None
        self.externals = {}  # name -> "UARTHub" | "terminal"


def _peripheral_ok(pathname, plat):
    parts = pathname.split(".")
    if parts[0] == "sysbus":
        parts = parts[1:]
    if not parts or parts[0] not in plat.types:
        return False
    for parent, child in zip(parts, parts[1:]):
        if plat.parent.get(child) != parent:
            return False
    return True


def _resolve(token, script_dir):
    """A path token of the monitor ($ORIGIN/x or @x) -> (kind, value)."""
    if token.startswith("$ORIGIN/"):
        return "local", os.path.join(script_dir, token[len("$ORIGIN/"):])
    if token.startswith("@"):
        return "path", token[1:]
    return "var" if token.startswith("$") else "other", token


def check_command(line, mon, names, problems, path, no, script_dir):
    rest = untokenizable(line)
    if rest is not None:
        problems.add(path, no, "Renode's monitor cannot tokenize %r" % rest[:40])
        return
    try:
        words = shlex.split(line, posix=True)
    except ValueError as e:
        problems.add(path, no, "cannot split the command (%s)" % e)
        return
    m = _VAR_ASSIGN.match(line) or re.match(r"^\$([A-Za-z_]\w*)=(\S+)$", line)
    if m:
        mon.vars.add(m.group(1))
        return
    for v in _MONITOR_VAR.findall(line):
        if v not in mon.vars:
            problems.add(path, no, "variable $%s is used before it is set" % v)
    head, args = words[0], words[1:]
    plat = mon.machines.get(mon.current)
    monitor = names["monitor"]
    if head in monitor:
        allowed = monitor[head]["args"]
        if allowed and (not args or args[0] not in allowed):
            problems.add(path, no, "%s takes %s, not %s" % (
                head, "/".join(allowed), args[0] if args else "nothing"))
            return
        sub = args[0] if args else ""
        if head == "mach" and sub == "create":
            mon.current = args[1] if len(args) > 1 else "machine-%d" % len(mon.machines)
            mon.machines[mon.current] = Platform()
        elif head == "mach" and sub == "set":
            if len(args) < 2 or args[1] not in mon.machines:
                problems.add(path, no, "mach set: no machine %s" % (args[1:] or ["?"])[0])
            else:
                mon.current = args[1]
        elif head == "emulation" and sub == "CreateUARTHub":
            mon.externals[args[1]] = "UARTHub"
        elif head == "emulation" and sub == "CreateServerSocketTerminal":
            if len(args) < 3:
                problems.add(path, no, "CreateServerSocketTerminal PORT NAME [telnet]")
            else:
                mon.externals[args[2]] = "terminal"
        elif head in ("machine", "sysbus", "connector", "logLevel") and plat is None:
            problems.add(path, no, "%s before mach create" % head)
        elif head == "machine" and sub == "LoadPlatformDescription":
            kind, value = _resolve(args[1], script_dir)
            if kind == "local":
                if not os.path.isfile(value):
                    problems.add(path, no, "no file %s" % os.path.relpath(value, ROOT))
                else:
                    check_repl(value, names, problems, plat)
            elif kind == "path" and not _use_platform(value, names, plat):
                problems.add(path, no, "%s is not a Renode platform in renode_names.json" % value)
        elif head == "machine" and sub == "SdCardFromFile":
            if len(args) < 5 or not _peripheral_ok(args[2], plat):
                problems.add(path, no, "SdCardFromFile FILE PERIPHERAL [PORT] SIZE ...: no "
                             "peripheral %s" % (args[2] if len(args) > 2 else "?"))
        elif head == "connector":
            if len(args) != 3 or not _peripheral_ok(args[1], plat) or args[2] not in mon.externals:
                problems.add(path, no, "connector %s: wants a peripheral of this machine and a "
                             "hub or terminal created before" % " ".join(args))
        elif head == "logLevel" and len(args) > 1 and not _peripheral_ok(args[1], plat):
            problems.add(path, no, "logLevel: no peripheral %s" % args[1])
        elif head in ("include", "i"):
            kind, value = _resolve(args[0] if args else "", script_dir)
            if kind == "local" and not os.path.isfile(value):
                problems.add(path, no, "no file %s" % value)
            elif kind == "path" and os.path.isfile(value):
                check_resc(value, names, problems, mon)
            elif kind != "var":
                problems.add(path, no, "include: no file %s" % value)
        return
    if head in mon.externals:
        methods = names["types"].get(mon.externals[head], {}).get("methods", ())
        if not args or args[0] not in methods:
            problems.add(path, no, "%s has no method %s" % (head, args[0] if args else "?"))
        return
    if plat is not None and _peripheral_ok(head, plat):
        kind = plat.types.get(head.split(".")[-1], "")
        methods = names["types"].get(kind, {}).get("methods", ())
        if not args or args[0] not in methods:
            problems.add(path, no, "%s (%s) has no method %s in renode_names.json" % (
                head, kind or "type unknown", args[0] if args else "?"))
        return
    problems.add(path, no, "unknown command or peripheral: %s" % head)


def check_resc(path, names, problems, mon=None):
    mon = mon or Monitor()
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        no, text = i + 1, lines[i].strip()
        i += 1
        if not text or text.startswith("#") or re.match(r"^:[a-z]+:", text):
            continue
        if re.match(r'^macro\s+\w+$', text):  # a macro: its body up to the closing """
            if i >= len(lines) or lines[i].strip() != '"""':
                problems.add(path, no, 'a macro body starts with """')
                continue
            i += 1
            while i < len(lines) and lines[i].strip() != '"""':
                if lines[i].strip():
                    check_command(lines[i].strip(), mon, names, problems, path, i + 1,
                                  os.path.dirname(path))
                i += 1
            i += 1
            continue
        check_command(text, mon, names, problems, path, no, os.path.dirname(os.path.abspath(path)))
    return mon


# -- .robot -----------------------------------------------------------------------------

def _cells(line):
    return [c for c in re.split(r"\s{2,}|\t", line.strip()) if c]


def check_robot(path, names, problems):
    lines = open(path).read().split("\n")
    section = None
    variables = set(_ROBOT_BUILTIN_VARS)
    values = {"CURDIR": os.path.dirname(os.path.abspath(path))}
    user_keywords = set()
    for ln in lines:  # first pass: the keywords this file defines, the test-wide variables
        if ln.startswith("***"):
            section = ln.strip("* ").strip()
        elif section == "Keywords" and ln and not ln[0].isspace():
            user_keywords.add(ln.strip())
        if "Set Test Variable" in ln or "Set Suite Variable" in ln:
            cells = _cells(ln)
            if len(cells) > 1:
                variables.update(_ROBOT_VAR.findall(cells[1]))
    mon = Monitor()
    section = None
    local = set()
    for no, ln in enumerate(lines, 1):
        if not ln.strip():
            continue
        if ln.startswith("***"):
            section = ln.strip("* ").strip()
            if section not in _ROBOT_SECTIONS:
                problems.add(path, no, "unknown section %s" % section)
            continue
        if section is None:
            problems.add(path, no, "text before the first *** section ***")
            continue
        if section == "Comments" or ln.lstrip().startswith("#"):
            continue
        cells = _cells(ln)
        if section == "Variables":
            m = re.match(r"^\$\{(\w+)\}$", cells[0])
            if not m or ln[0].isspace():
                problems.add(path, no, "a variable line is ${NAME}  value")
                continue
            for v in _ROBOT_VAR.findall(" ".join(cells[1:])):
                if v not in variables:
                    problems.add(path, no, "${%s} is not defined" % v)
            variables.add(m.group(1))
            values[m.group(1)] = _robot_value(" ".join(cells[1:]), values)
            continue
        if section == "Settings":
            continue
        if not ln[0].isspace():  # a test case or keyword name
            local = set()
            continue
        if cells[0] in _ROBOT_SETTINGS:
            if cells[0] == "[Arguments]":
                for c in cells[1:]:
                    local.update(_ROBOT_VAR.findall(c))
            continue
        if cells[0].startswith("[") and cells[0].endswith("]"):
            problems.add(path, no, "unknown setting %s" % cells[0])
            continue
        assign = None
        if re.match(r"^\$\{\w+\}=?$", cells[0]):
            assign = _ROBOT_VAR.findall(cells[0])[0]
            cells = cells[1:]
        if not cells:
            problems.add(path, no, "an assignment needs a keyword")
            continue
        for c in cells[1:]:
            for v in _ROBOT_VAR.findall(c):
                if v not in variables and v not in local:
                    problems.add(path, no, "${%s} is not defined" % v)
        kw = cells[0]
        if kw in user_keywords:
            pass
        elif kw in names["robot_keywords"]:
            named = names["robot_keywords"][kw]["named"]
            for c in cells[1:]:
                m = re.match(r"^(\w+)=", c)
                if m and m.group(1) not in named and not c.startswith("$"):
                    problems.add(path, no, "%s has no argument %s" % (kw, m.group(1)))
            if kw == "Execute Command":
                cmd = _robot_value(cells[1], values) if len(cells) > 1 else ""
                check_command(cmd, mon, names, problems, path, no, values["CURDIR"])
            if kw == "Create Terminal Tester":
                machine = [c[8:] for c in cells if c.startswith("machine=")]
                plat = mon.machines.get(machine[0] if machine else mon.current)
                if plat is None or len(cells) < 2 or not _peripheral_ok(cells[1] if not
                                                                          cells[1].startswith("$") else _robot_value(cells[1], values), plat):
                    problems.add(path, no, "Create Terminal Tester: no UART %s on machine %s" % (
                        _robot_value(cells[1], values) if len(cells) > 1 else "?",
                        machine[0] if machine else mon.current))
        else:
            problems.add(path, no, "unknown keyword %s (not Renode's, not BuiltIn's in "
                         "renode_names.json, not defined here)" % kw)
        if assign:
            local.add(assign)


def _robot_value(text, values):
    """A robot cell with the variables it knows substituted (others left as ${X})."""
    return _ROBOT_VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# -- entry points ------------------------------------------------------------------------

def default_files():
    out = []
    for d, ext in (("boards/renode", (".repl", ".resc")), ("tests/renode", (".robot",))):
        full = os.path.join(ROOT, d)
        out += [os.path.join(full, f) for f in sorted(os.listdir(full)) if f.endswith(ext)]
    return out


def check(paths, names=None):
    """Problems found in the files (one 'file:line: text' each); [] when all is well."""
    names = names or load_names()
    problems = Problems()
    for p in paths:
        if p.endswith(".repl"):
            check_repl(p, names, problems)
        elif p.endswith(".resc"):
            check_resc(p, names, problems)
        elif p.endswith(".robot"):
            check_robot(p, names, problems)
        else:
            problems.add(p, 0, "not a .repl, .resc or .robot file")
    return problems.items


def main(argv=None):
    paths = (argv if argv is not None else sys.argv[1:]) or default_files()
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        print("renode_check: no such file: %s" % missing[0], file=sys.stderr)
        return 2
    found = check(paths)
    for line in found:
        print(line)
    print("%d file(s), %d problem(s)" % (len(paths), len(found)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
