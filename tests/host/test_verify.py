"""`sdmirror verify`: equal, differing, metadata block, and every bad-input path."""
import json

import pytest

from sdmirror.cli import main
from sdmirror.verify import block_digest

BLOCK = 512


def image(path, nblocks, meta=True, changes=()):
    data = bytearray(b"\x11" * (nblocks * BLOCK))
    if meta:  # a metadata block that differs between the two cards
        data[-BLOCK:-BLOCK + 8] = b"SDMIRROR"
        data[-BLOCK + 9] = 1 if "a" in path.name else 2
    for b in changes:
        data[b * BLOCK + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("alg", ["crc32", "crc32-mpeg2", "md5", "sha1", "sha256"])
def test_equal_volumes_despite_different_metadata(tmp_path, capsys, alg):
    a = image(tmp_path / "a.img", 64)
    b = image(tmp_path / "b.img", 64)
    assert main(["verify", a, b, "--alg", alg]) == 0
    assert "equal: 62 blocks" in capsys.readouterr().out


def test_differing_blocks_are_listed(tmp_path, capsys):
    a = image(tmp_path / "a.img", 64)
    b = image(tmp_path / "b.img", 64, changes=(2, 40))
    assert main(["verify", a, b, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["blocks_differing"] == [2, 40] and not out["equal"]


def test_images_without_metadata_compare_every_block(tmp_path, capsys):
    a = image(tmp_path / "a.img", 8, meta=False)
    b = image(tmp_path / "b.img", 8, meta=False, changes=(7,))
    assert main(["verify", a, b]) == 1
    assert "1 of 8 blocks differ" in capsys.readouterr().out


def test_digests_match_the_reference_functions():
    import binascii
    import hashlib
    data = bytes(range(256)) * 2
    assert block_digest("crc32")(data) == binascii.crc32(data).to_bytes(4, "big")
    assert block_digest("sha256")(data) == hashlib.sha256(data).digest()


@pytest.mark.parametrize("args, message", [
    (["missing.img", "b.img"], "cannot read image missing.img"),
    (["odd.img", "b.img"], "not a whole number of 512-byte blocks"),
    (["a.img", "small.img"], "volumes differ in size"),
])
def test_bad_inputs_give_one_line_and_status_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    image(tmp_path / "a.img", 64)
    image(tmp_path / "b.img", 64)
    image(tmp_path / "small.img", 32)
    (tmp_path / "odd.img").write_bytes(b"x" * 1000)
    assert main(["verify"] + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_unknown_command_and_help(capsys):
    assert main(["frob"]) == 2
    assert "unknown command 'frob'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "verify" in capsys.readouterr().out
