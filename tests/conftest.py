from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GANJIANG = REPO / "networks" / "ganjiang" / "corridor.toml"
INGOLSTADT = SHARED / "scenarios" / "ingolstadt7"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture
def ganjiang_path() -> Path:
    return GANJIANG


@pytest.fixture
def ingolstadt() -> Path:
    """The ingolstadt7 net of ../shared/scenarios (the test skips when it is absent)."""
    net = INGOLSTADT / "ingolstadt7.net.xml"
    if not net.is_file():
        pytest.skip("../shared/scenarios/ingolstadt7 is not present")
    return net
