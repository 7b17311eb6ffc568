"""The kind of a dialog file, guessed from its file name alone.

Rule: the first word of FILE_TYPES that occurs (case-insensitively) in the file's
base name wins; a name that contains none of them is `other`. The order matters:
`changelog` and `dialog` both contain `log`, so they are tested before it, and a
consolidated changelog of doctrine (`TLDR_CHANGELOG_DOCTRINE.md`) is a changelog.

    changelog_dialog_backup.md          changelog
    AGI_SUPPORT_MEETING_777.md          meeting
    session_2026_01_16_version_4.md     session
    4.2.0_release_announcement.md       announcement
    WOLFIE_HEADER_DOCTRINE.md           doctrine
    IDE_COORDINATION_PROTOCOL_v4.md     protocol
    GOV_dialog.md                       dialog
    CaptainsLog.md                      log
    cursor.md                           other
"""

from __future__ import annotations

FILE_TYPES = (
    "changelog",
    "meeting",
    "session",
    "announcement",
    "doctrine",
    "protocol",
    "dialog",
    "log",
)
OTHER = "other"


def file_type(path: str) -> str:
    """The file type of `path` ('/'-separated, relative) by the rule of this module."""
    name = path.rsplit("/", 1)[-1].lower()
    for kind in FILE_TYPES:
        if kind in name:
            return kind
    return OTHER
