// Runs the firmware test modules on MicroPython's official WebAssembly port (npm
// @micropython/micropython-webassembly-pyscript, pinned in the Makefile): a 32-bit VM
// (sys.maxsize 2^31-1: ints from 2^30 up are heap objects, as on a board), no viper,
// hashlib with sha256 only. `make wasmtest` installs it and runs:
//
//   node tools/wasmtest.mjs PACKAGE_DIR HEAPSIZE [mpytest.py arguments...]
//
// The VM cannot see the host's files (its filesystem is in memory), so this copies the
// repository's firmware/, boards/, tests/firmware/ and tools/mpytest.py into it, then runs
// tools/mpytest.py there with the arguments given. Test modules that cannot run on this VM
// are left out with the reason (WASM_SKIP below); mpytest prints every module it ran.
// Exit status: mpytest's (0 all passed, 1 a failure), 2 for a usage error.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

// module -> why it cannot run on the WebAssembly port
export const WASM_SKIP = {
    "test_runtime.py": "two runtimes over loopback TCP: the WebAssembly port has no socket",
    "test_clock_wrap.py": "drives test_runtime's TCP pair: no socket",
    "test_boards.py": "the port fakes' TCP links and UART relay need socket",
    "test_fastcrc.py": "the viper crc32 engine: the WebAssembly port has no native emitter",
    "test_renode_board.py": "builds on test_boards (socket)",
    "test_pair.py": "its pairs of RAM cards grew this VM's memory to its 2 GiB limit " +
        "(MemoryError, then no progress); runs on the Unix VM",
};

// firmware modules not imported here, and why (mpytest's --import sweep would fail on them)
export const WASM_SKIP_FIRMWARE = {
    "link.py": "drivers/link.py, the TCP links: no socket (a board without one uses " +
        "drivers/uartlink.py, which does run here)",
};

const [pkgDir, heap, ...args] = process.argv.slice(2);
if (!pkgDir || !heap) {
    console.error("usage: node tools/wasmtest.mjs PACKAGE_DIR HEAPSIZE [mpytest args...]");
    process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const { loadMicroPython } = await import(pathToFileURL(path.join(pkgDir, "micropython.mjs")));
const mp = await loadMicroPython({
    heapsize: parseInt(heap, 10),
    stdout: (line) => process.stdout.write(line + "\n"),
    stderr: (line) => process.stderr.write(line + "\n"),
});

function copyTree(src, dst, skip) {
    mp.FS.mkdirTree(dst);
    for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
        if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
        const s = path.join(src, entry.name), d = dst + "/" + entry.name;
        if (entry.isDirectory()) copyTree(s, d, skip);
        else if (entry.name.endsWith(".py") && !(skip && skip[entry.name])) {
            mp.FS.writeFile(d, fs.readFileSync(s));
        }
    }
}

copyTree(path.join(root, "firmware"), "/repo/firmware", WASM_SKIP_FIRMWARE);
copyTree(path.join(root, "boards"), "/repo/boards");
copyTree(path.join(root, "tests", "firmware"), "/repo/tests/firmware", WASM_SKIP);
mp.FS.mkdirTree("/repo/tools");
mp.FS.writeFile("/repo/tools/mpytest.py", fs.readFileSync(path.join(root, "tools", "mpytest.py")));
for (const name of Object.keys(WASM_SKIP)) {
    console.log(`${name}: not run on the WebAssembly port: ${WASM_SKIP[name]}`);
}
for (const name of Object.keys(WASM_SKIP_FIRMWARE)) {
    console.log(`firmware ${name}: not imported on the WebAssembly port: ${WASM_SKIP_FIRMWARE[name]}`);
}
// One runPython call per step of mpytest's Runner (a test, a module's import): this port
// frees garbage only when control returns to JavaScript (ports/webassembly/main.c:
// gc_collect only flags a collection, gc_collect_top_level does it), so one call for the
// whole run would keep every test's garbage and hit the 2 GiB memory limit.
const argv = JSON.stringify(args);
function py(code) {
    mp.runPython(`
try:
    ${code}
    _status = None
except SystemExit as e:
    _status = e.args[0] if e.args else 0
`);
    return mp.globals.get("_status");
}
let status;
try {
    // this port has no sys.argv: run mpytest's code without its main(sys.argv[1:]) call
    status = py(`import os, sys; os.chdir("/repo"); ` +
        `_g = {"__name__": "mpytest", "__file__": "/repo/tools/mpytest.py"}; ` +
        `exec(open("/repo/tools/mpytest.py").read().rsplit("main(sys.argv[1:])", 1)[0], _g); ` +
        `_runner = _g["Runner"](${argv}); _more = True`);
    while (status == null && mp.globals.get("_more")) {
        status = py("_more = _runner.step()");
    }
    if (status == null) status = py("_runner.finish()");
    if (status == null) status = 0;
} catch (e) {
    console.error(String(e));
    status = 1;
}
process.exit(status);
