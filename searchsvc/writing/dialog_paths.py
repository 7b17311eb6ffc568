"""Check a `dialog_file` given by a client before anything is written: inside the root, `.md`.

Rules: a relative path with `/` separators, no empty, `.` or `..` part, no
backslash, NUL or other control character, ending in `.md` (any case); its
folder must already exist; after resolving symbolic links the folder and the
file (when it exists) must still lie inside the root, and the file must be a
regular file. Nothing here writes.
"""

from __future__ import annotations

from pathlib import Path

MAX_PATH_CHARS = 1024


class UnsafePath(ValueError):
    """The path is not a relative `.md` path inside the root (the message says why)."""


def check_relative_path(rel: object) -> str:
    """`rel` when it is a well-formed relative `.md` path, else UnsafePath."""
    if not isinstance(rel, str) or not rel:
        raise UnsafePath("dialog_file must be a non-empty string")
    if len(rel) > MAX_PATH_CHARS:
        raise UnsafePath(f"dialog_file is longer than {MAX_PATH_CHARS} characters")
    if any(ord(char) < 0x20 or char == "\x7f" for char in rel):
        raise UnsafePath("dialog_file must not contain NUL or other control characters")
    if "\\" in rel:
        raise UnsafePath("dialog_file must use '/' separators, not backslashes")
    if rel.startswith("/"):
        raise UnsafePath("dialog_file must be relative to the dialogs root, not absolute")
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePath("dialog_file must not contain empty, '.' or '..' parts")
    name = parts[-1]
    if not name.lower().endswith(".md") or len(name) <= 3:
        raise UnsafePath("dialog_file must name a .md file")
    return rel


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def resolve_dialog_path(root: Path, rel: object) -> Path:
    """The real file path to write for `rel` below `root`, after every check above.

    :raise UnsafePath: when `rel` is malformed, its folder does not exist, or it
        (or a symbolic link on the way) leads outside the root.
    """
    checked = check_relative_path(rel)
    real_root = root.resolve(strict=True)
    candidate = real_root.joinpath(*checked.split("/"))
    try:
        folder = candidate.parent.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafePath(
            f"the folder of {checked} does not exist below the dialogs root (create it first)"
        ) from None
    if not folder.is_dir() or not _inside(folder, real_root):
        raise UnsafePath(f"{checked} leads outside the dialogs root")
    target = folder / candidate.name
    if target.is_symlink() or target.exists():
        try:
            target = target.resolve(strict=True)
        except (OSError, RuntimeError):
            raise UnsafePath(f"{checked} is a broken symbolic link") from None
        if not _inside(target, real_root):
            raise UnsafePath(f"{checked} leads outside the dialogs root")
        if not target.is_file():
            raise UnsafePath(f"{checked} is not a regular file")
    return target
