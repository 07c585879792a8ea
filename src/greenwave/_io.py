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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                        dir=parent))
    except OSError as exc:
        raise InputError(f"cannot create the output folder {target} ({exc.strerror})",
                         field="--out", value=str(target)) from exc
    os.chmod(scratch, 0o777 & ~_umask())
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
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
