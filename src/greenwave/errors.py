"""The error hierarchy: every failure greenwave reports on purpose is a GreenwaveError."""

from __future__ import annotations


class GreenwaveError(Exception):
    """Base of all errors greenwave raises deliberately."""


class InputError(GreenwaveError, ValueError):
    """Bad user input: a file, field or value that is not what was expected (exit code 2)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        self.message = message  # without the file and field prefix
        self.file = file
        self.field = field
        self.value = value
        parts = []
        if file:
            parts.append(str(file))
        if field:
            parts.append(f"field '{field}'")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class InfeasibleError(GreenwaveError):
    """The constraints cannot all hold (e.g. minimum greens do not fit the cycle)."""


class SolverError(GreenwaveError):
    """The MILP solver failed or returned no usable solution."""


class SimulationError(GreenwaveError):
    """SUMO failed, or its outputs could not be read."""
