"""The shared helpers: files written whole or not at all (and durably), file hashes, and number types for flags."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys

import pytest

from molmo_arena.common import files
from molmo_arena.common.arguments import non_negative_float, non_negative_int, positive_float, positive_int


def test_write_lines_and_bytes_give_exactly_the_content(tmp_path):
    assert files.write_lines(tmp_path / "deep/a.jsonl", (f"line {i}" for i in range(3))) == 3
    assert (tmp_path / "deep/a.jsonl").read_text() == "line 0\nline 1\nline 2\n"
    files.write_text(tmp_path / "b.txt", "é\n")
    assert (tmp_path / "b.txt").read_bytes() == "é\n".encode()


def test_a_failing_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "ratings.csv"
    target.write_text("old\n")

    def lines():
        yield "new"
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.write_lines(target, lines())
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ratings.csv"]


def test_the_data_and_the_rename_reach_the_disk_before_the_write_returns(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.path.isdir(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, destination):
        events.append(("replace",))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    files.write_bytes(tmp_path / "run.json", b"{}")
    assert events == [("fsync", False), ("replace",), ("fsync", True)]  # the file, its rename, the folder


def test_file_sha256_reads_large_files_in_blocks_and_names_an_unreadable_one(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)
    (tmp_path / "big.bin").write_bytes(data)
    assert files.file_sha256(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError, match=r"missing\.bin: cannot read"):
        files.file_sha256(tmp_path / "missing.bin")


@pytest.mark.parametrize(("parse", "text", "value"), [
    (positive_int, "3", 3), (non_negative_int, "0", 0), (positive_float, "0.25", 0.25), (non_negative_float, "0", 0.0),
])
def test_numbers_in_range_are_read(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize(("parse", "text"), [
    (positive_int, "0"), (positive_int, "-2"), (positive_int, "1.5"), (positive_int, "many"),
    (non_negative_int, "-1"), (positive_float, "0"), (positive_float, "nan"), (positive_float, "inf"),
    (non_negative_float, "-0.5"),
])
def test_numbers_out_of_range_are_refused_as_value_errors(parse, text):
    with pytest.raises(ValueError, match=rf"expected .*, got {text!r}"):
        parse(text)


def test_argparse_prints_what_was_expected(capsys):
    parser = argparse.ArgumentParser(prog="prog")
    parser.add_argument("--rounds", type=positive_int)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--rounds", "0"])
    assert exit_info.value.code == 2
    assert "argument --rounds: expected a whole number of at least 1, got '0'" in capsys.readouterr().err


def test_the_helpers_import_no_package_of_the_project():
    code = ("import sys, molmo_arena.common.files, molmo_arena.common.arguments; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'evals', 'arena', 'leaderboard', 'molmo'}))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_json_lines_are_read_with_their_line_numbers_and_bad_lines_named(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"a": 1}\n\n  \n{"b": 2}\n')
    assert list(files.read_json_lines(good)) == [(1, {"a": 1}), (4, {"b": 2})]
    for content, message in [(b'{"a": 1}\n{"a": \n', r"bad\.jsonl:2: not valid JSON"),
                             (b'{"a": 1}\n[1, 2]\n', r"bad\.jsonl:2: expected a JSON object, got list"),
                             (b'{"a": "\xff"}\n', r"bad\.jsonl: cannot read")]:
        (tmp_path / "bad.jsonl").write_bytes(content)
        with pytest.raises(ValueError, match=message):
            list(files.read_json_lines(tmp_path / "bad.jsonl"))
