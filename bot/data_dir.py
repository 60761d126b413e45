"""The bot's data folder is the owner's alone: folders 0700, files 0600, whatever was there before.

`data_dir` holds the care database, the access token and the device's encryption keys.
The process umask is set first, so every file made afterwards (SQLite's WAL and shared
memory files, nio's store and trust files, a new key file) is born owner-only; then the
modes of what already exists are corrected, because a folder made by an older Homeward,
a restored backup or a careless `cp -r` keeps the modes it came with.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private(data_dir: Path) -> list[Path]:
    """Set the umask, create `data_dir` if needed, and make it and everything below owner-only.

    Returns the paths whose mode was changed. Symbolic links are left alone (their target
    may be anywhere); a path whose mode cannot be changed (another owner) is logged.
    """
    os.umask(UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    changed: list[Path] = []
    for path in [data_dir, *sorted(data_dir.rglob("*"))]:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue  # removed while we walked
        if stat.S_ISLNK(info.st_mode):
            continue
        wanted = FOLDER_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
        if stat.S_IMODE(info.st_mode) == wanted:
            continue
        try:
            os.chmod(path, wanted)
        except OSError as exc:
            log.error("%s cannot be made owner-only (%s): fix its owner or mode", path, exc.strerror)
            continue
        changed.append(path)
    if changed:
        log.warning("made %d path(s) in the data folder owner-only (they were readable by others)", len(changed))
    return changed
