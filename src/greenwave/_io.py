"""Atomic file output: a file is either fully written or not there at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[str]]:
    """Open a temporary file beside *path*; rename it over *path* only on success."""
    target = Path(path)
    created = make_parents(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                   dir=target.parent)
    except BaseException:
        remove_empty(created)
        raise
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        remove_empty(created)
        raise


def make_parents(path: Path) -> list[Path]:
    """Create the missing folders above *path*; return them, outermost first.

    A failed write hands them to :func:`remove_empty`, so that bad input leaves nothing
    behind, not even an empty folder.
    """
    missing = []
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    missing.reverse()
    for folder in missing:
        folder.mkdir(exist_ok=True)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove *folders* (innermost last in the list) where they are still empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write *text* to *path* atomically and return the path."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A scratch folder whose contents move into *out_dir* only if the block succeeds.

    Outputs of one command appear together or not at all: on any error the scratch folder is
    removed and *out_dir* is left as it was (not even created). Each top-level entry written
    replaces the entry of the same name in *out_dir* (a ``runs/`` folder is replaced whole, so
    results of an earlier run never mix with new ones); other files there are left alone.
    """
    import shutil

    from greenwave.errors import InputError

    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a folder", field="--out", value=str(target))
    resolved = target.resolve()
    created: list[Path] = []
    try:
        created = make_parents(resolved)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                        dir=resolved.parent))
    except OSError as exc:
        remove_empty(created)
        raise InputError(f"cannot create the output folder {target} ({exc.strerror})",
                         field="--out", value=str(target)) from exc
    os.chmod(scratch, 0o777 & ~_umask())
    done = False
    try:
        yield scratch
        target.mkdir(parents=True, exist_ok=True)
        for item in sorted(scratch.iterdir()):
            dest = target / item.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            os.replace(item, dest)
        done = True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not done:
            remove_empty(created)  # parents made for the scratch folder, e.g. sumo_configs/


def read_json(path: str | os.PathLike[str], what: str) -> object:
    """Parse a JSON file; InputError naming the file when it is missing or not JSON."""
    import json

    from greenwave.errors import InputError

    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", file=str(p)) from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {what}", file=str(p)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a {what} ({exc})", file=str(p)) from exc
