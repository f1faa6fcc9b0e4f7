"""User paths: what is wrong with one (missing, a folder, a loop, no permission), OS errors as
one user paragraph, and the folders nk writes to, checked before a run starts.

Everything here speaks of the path the user gave and of the fix, never of Python's exception.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from nk.errors import UserError

# errno → (what happened, what to do): the file-system faults a user can fix
_ERRNO_TODO = {
    errno.ENOSPC: "the disk is full: free space, or write elsewhere (results_root=…, cache_dir=… or "
                  "NK_CACHE_DIR)",
    errno.EDQUOT: "the disk quota is used up: free space, or write elsewhere (results_root=…, cache_dir=…)",
    errno.EACCES: "change the permissions (ls -l, chmod, chown) or choose another path",
    errno.EPERM: "the path is protected (immutable, chattr +i, or owned by another user): "
                 "change that, or choose another path",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.ENOTDIR: "a part of the path is a regular file, not a folder: choose another path or move the file",
    errno.EISDIR: "the path is a folder: give a file",
    errno.ELOOP: "the path is a symbolic link that points (through other links) back to itself: fix the link",
    errno.ENAMETOOLONG: "shorten the path (or the experiment name)",
    errno.ENOENT: "check the path",
    errno.EEXIST: "a file with this name is in the way: remove it or choose another path",
}


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return os.environ.get("USER", "this user")


def os_error(exc: OSError, *, doing: str | None = None, key: str | None = None) -> UserError | None:
    """``exc`` as a :class:`UserError` when it is a file-system fault the user can fix, else None.

    :param doing: what nk was doing ("writing the run folder"); :param key: the config key that
        chose the path, if known.
    """
    if exc.errno not in _ERRNO_TODO:
        return None
    path = exc.filename
    reason = exc.strerror or os.strerror(exc.errno or 0)
    if exc.errno in (errno.EACCES, errno.EPERM):
        reason += f" for user {_user()}"
    what = f"{doing[0].upper() + doing[1:] if doing else 'A file operation'} failed"
    if path is not None:
        what += f" on {os.fsdecode(path)!r}"
        if exc.filename2 is not None:
            what += f" → {os.fsdecode(exc.filename2)!r}"
    return UserError(f"{what}: {reason} ({errno.errorcode.get(exc.errno or 0, exc.errno)})",
                     where=f"config key {key}" if key else None,
                     todo=_ERRNO_TODO[exc.errno])


def path_problem(path: str | os.PathLike[str], *, want: str = "file") -> str | None:
    """Why ``path`` cannot be read as a ``want`` ("file" or "folder"), or None when it can."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points back to itself)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"permission denied for user {_user()} (a folder on the way is not accessible)"
        if exc.errno == errno.ENOTDIR:
            return "not found (a part of the path is a file, not a folder)"
        if os.path.islink(p):
            return f"broken symbolic link (points to {os.readlink(p)!r}, which does not exist)"
        return "not found"
    import stat

    if want == "file" and stat.S_ISDIR(st.st_mode):
        return "a folder, not a file"
    if want == "folder" and not stat.S_ISDIR(st.st_mode):
        return "a file, not a folder"
    if want == "file" and not stat.S_ISREG(st.st_mode):
        return "not a regular file (a device, pipe or socket)"
    if not os.access(p, os.R_OK):
        return f"permission denied: not readable by user {_user()}"
    return None


def check_name(name: str, key: str = "name") -> None:
    """An experiment name is one folder name below results_root: ``../x`` or ``a/b`` would write
    elsewhere (or create nested folders nobody asked for)."""
    bad = (not name.strip() or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or os.sep in name or (os.altsep is not None and os.altsep in name))
    if bad:
        raise UserError(
            f"The experiment {key} {name!r} is not a plain folder name: results would go outside "
            "results_root or into unintended sub-folders",
            where=f"config key {key}",
            allowed="a name without '/', '\\' and not '.' or '..' (letters, digits, - _ . +)",
            todo=f"choose e.g. {key}=my_experiment; to write elsewhere set results_root=FOLDER",
        )


def check_output_folder(path: str | os.PathLike[str], key: str, *, create: bool = True) -> Path:
    """The folder ``path`` (from config key ``key``), checked usable as a folder nk writes to
    (and created when ``create``)."""
    folder = Path(path).expanduser()
    # the nearest existing ancestor decides: a regular file there, or no write permission
    probe = folder
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # a dangling link: mkdir would fail with a vague FileExistsError
            raise UserError(f"{key}={str(path)!r} is a broken symbolic link ({probe} → {os.readlink(probe)})",
                            where=f"config key {key}", todo="fix the link or choose another folder")
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(
            f"{key}={str(path)!r} must be a folder, but {str(probe)!r} is a regular file",
            where=f"config key {key}",
            allowed="a folder (created when missing)",
            todo=f"choose another {key}, or move the file {str(probe)!r} away",
        )
    if not create:
        if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
            raise UserError(f"{key}={str(path)!r} is not writable by user {_user()} ({str(probe)!r} is not)",
                            where=f"config key {key}", todo="change its permissions, or choose another folder")
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err = os_error(exc, doing=f"creating the folder of {key}", key=key)
        if err is None:
            raise
        raise err from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{key}={str(path)!r} is not writable by user {_user()}", where=f"config key {key}",
                        todo="change its permissions, or choose another folder")
    return folder
