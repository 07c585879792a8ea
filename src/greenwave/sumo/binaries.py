"""Locate the SUMO binaries shipped by the eclipse-sumo wheel (no SUMO_HOME, no system SUMO)."""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from greenwave.errors import SimulationError


@cache
def sumo_home() -> Path:
    """SUMO's data root inside the installed eclipse-sumo package."""
    try:
        import sumo  # the eclipse-sumo wheel's package
    except ImportError as exc:  # pragma: no cover - a broken install
        raise SimulationError("eclipse-sumo is not installed: pip install eclipse-sumo") from exc
    return Path(sumo.__file__).resolve().parent


def binary(name: str) -> Path:
    """Path of a SUMO binary (sumo, netconvert, sumo-gui, duarouter, ...)."""
    exe = name + (".exe" if os.name == "nt" else "")
    candidates = [sumo_home() / "bin" / exe, Path(sys.executable).parent / exe]
    for c in candidates:
        if c.is_file():
            return c
    found = shutil.which(name)
    if found:
        return Path(found)
    raise SimulationError(f"cannot find the SUMO binary {name!r} in the eclipse-sumo package")


def tool(relative: str) -> Path:
    """Path of a script in SUMO's tools/ folder, e.g. 'tlsCoordinator.py'."""
    p = sumo_home() / "tools" / relative
    if not p.is_file():
        raise SimulationError(f"SUMO tool {relative!r} not found under {p.parent}")
    return p


def sumo_env() -> dict[str, str]:
    """Environment for SUMO subprocesses: SUMO_HOME set to the wheel's data root."""
    env = dict(os.environ)
    env["SUMO_HOME"] = str(sumo_home())
    return env
