"""Finding and reading dialog files on disk (real files under tmp_path)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from indexer.discover import SourceFile, find_dialog_files, read_source


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_finds_md_files_in_any_case_sorted_with_slashes(tmp_path):
    for name in ["b.md", "a/Z.MD", "a/y.Md", "c/d/e.md", "notes.txt", "x.md.bak", "a/.hidden.md"]:
        write(tmp_path / name, b"x")
    (tmp_path / "dir.md").mkdir()
    assert find_dialog_files(tmp_path) == sorted(
        ["a/.hidden.md", "a/Z.MD", "a/y.Md", "b.md", "c/d/e.md"]
    )


def test_an_empty_or_missing_root_has_no_files(tmp_path):
    assert find_dialog_files(tmp_path) == []
    assert find_dialog_files(tmp_path / "absent") == []


def test_symlinks_inside_the_root_are_followed_and_outside_ones_skipped(tmp_path):
    root = tmp_path / "dialogs"
    outside = tmp_path / "outside"
    write(root / "real" / "a.md", b"x")
    write(outside / "secret.md", b"x")
    (root / "link_in.md").symlink_to(root / "real" / "a.md")
    (root / "link_out.md").symlink_to(outside / "secret.md")
    (root / "dir_out").symlink_to(outside, target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "nowhere.md")
    assert find_dialog_files(root) == ["link_in.md", "real/a.md"]


def test_read_source_decodes_hashes_and_stats(tmp_path):
    data = b"\xef\xbb\xbf# Caf\xe9 \x97 old bytes\n"
    path = write(tmp_path / "dialogs" / "x.md", data)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    source = read_source(tmp_path, "dialogs/x.md")
    assert source == SourceFile(
        path="dialogs/x.md",
        text="# Café — old bytes\n",
        content_hash=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        mtime_ns=1_700_000_000_000_000_000,
    )


def test_read_source_refuses_paths_outside_the_root(tmp_path):
    write(tmp_path / "secret.md", b"x")
    (tmp_path / "dialogs").mkdir()
    with pytest.raises(ValueError, match="outside"):
        read_source(tmp_path / "dialogs", "../secret.md")


def test_read_source_of_a_missing_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        read_source(tmp_path, "gone.md")


def test_the_shared_corpus_has_88_dialog_files(shared_corpus):
    found = find_dialog_files(shared_corpus)
    assert len(found) == 88
    assert "dialogs/GOV_dialog.md" in found and "dialogs/monday/LILITH_dialog.md" in found
