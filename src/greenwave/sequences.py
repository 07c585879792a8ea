"""Left-turn phase sequences of the main street: lag/lag, lead/lead, lead/lag and lag/lead.

A signal whose plan has a *through phase* (protecting ``out_T`` and ``in_T``) next to a
*left-turn phase* (protecting ``out_L`` and ``in_L``, no through movement) can serve its main
street left turns in four sequences, named ``<outbound left>/<inbound left>``:

``lag/lag``
    through phase, then both lefts (``[T, L]``).
``lead/lead``
    both lefts, then the through phase (``[L, T]``).
``lead/lag``
    the outbound left leads with its own through movement, both throughs run together, the
    inbound left lags with its own through movement: ``[out_T + out_L, T, in_T + in_L]``.
``lag/lead``
    the mirror image: ``[in_T + in_L, T, out_T + out_L]``.

In the split sequences each left keeps its green ``l`` and each through movement stays green
through the change to or from its own left, so with equal intergreens ``I`` both through
greens keep their length ``t`` and the inbound through green moves by ``±(l + I)`` relative to
the outbound one: the shift MAXBAND's lead/lag binaries ``δ_i l_i − δ̄_i l̄_i`` express. The
middle (both throughs) stage gets ``t − l − I``; a sequence whose middle stage would fall
below the through phase's minimum green is not offered. lag/lag and lead/lead give the same
through windows (shift 0) and differ only in where the lefts sit; the band cannot tell them
apart, so only the one the corridor's own plan uses is offered besides the split sequences.

Every phase keeps yellow and all-red; the SUMO program written from the phases
(:func:`greenwave.sumo.programs.program_phases`) shows yellow to every movement that stops and
keeps green the ones that continue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from greenwave.corridor import Intersection, Phase

__all__ = ["SEQUENCES", "SequenceVariant", "sequence_variants", "template_sequence"]

SEQUENCES = ("lag/lag", "lead/lead", "lead/lag", "lag/lead")


@dataclass(frozen=True)
class SequenceVariant:
    """An intersection timed with one left-turn sequence."""

    name: str
    intersection: Intersection


def _is_through(p: Phase) -> bool:
    return {"out_T", "in_T"} <= p.protected and not ({"out_L", "in_L"} & p.protected)


def _is_left(p: Phase) -> bool:
    moves = p.protected | p.permitted
    return {"out_L", "in_L"} <= p.protected and not ({"out_T", "in_T"} & moves)


def _pair(phases: Sequence[Phase]) -> tuple[int, int] | None:
    """(index of the through phase, index of the left phase) when they are adjacent."""
    n = len(phases)
    for k, p in enumerate(phases):
        if _is_through(p):
            for j in ((k + 1) % n, (k - 1) % n):
                if j != k and _is_left(phases[j]):
                    return k, j
    return None


def template_sequence(intersection: Intersection) -> str:
    """The sequence of the intersection's own plan (``""`` when it has no such pair)."""
    pair = _pair(intersection.phases)
    if pair is None:
        return ""
    k, j = pair
    n = len(intersection.phases)
    return "lag/lag" if j == (k + 1) % n else "lead/lead"


def sequence_variants(intersection: Intersection) -> tuple[SequenceVariant, ...]:
    """The intersection under every sequence its plan allows (its own one first).

    An intersection without a through phase next to a protected left-turn phase has one
    variant, itself (named ``""``). Windows (through greens, inbound shift, outbound green
    start) are recomputed from the new phases.
    """
    phases = intersection.phases
    pair = _pair(phases)
    if pair is None:
        return (SequenceVariant("", intersection),)
    k, j = pair
    own = template_sequence(intersection)
    through, left = phases[k], phases[j]
    n = len(phases)
    first = k if own == "lag/lag" else j  # the pair's first phase, cyclically
    others = [phases[(first + q) % n] for q in range(2, n)]  # the phases after the pair
    variants = [SequenceVariant(own, intersection)]
    for name, group in (("lead/lag", _split(through, left, out_leads=True)),
                        ("lag/lead", _split(through, left, out_leads=False))):
        if group is not None:
            variants.append(SequenceVariant(name, intersection.with_phases(group + others)))
    return tuple(variants)


def _split(through: Phase, left: Phase, *, out_leads: bool) -> list[Phase] | None:
    """``[lead stage, both throughs, lag stage]`` or None when the middle is too short."""
    yellow = max(through.yellow_s, left.yellow_s)
    all_red = max(through.all_red_s, left.all_red_s)
    intergreen = yellow + all_red
    total = through.duration_s + left.duration_s
    middle = total - 2 * left.green_s - 3 * intergreen
    if middle < through.min_green_s - 1e-9:
        return None

    def side(direction: str) -> Phase:
        keep = {m for m in through.protected if m.startswith(direction)}
        allow = {m for m in through.permitted if m.startswith(direction)}
        return Phase(
            name=f"main {'outbound' if direction == 'out_' else 'inbound'} + left",
            green_s=left.green_s,
            yellow_s=yellow,
            all_red_s=all_red,
            min_green_s=max(left.min_green_s, 0.0),
            protected=frozenset(keep | {f"{direction}L"}),
            permitted=frozenset(allow),
        )

    both = replace(through, green_s=middle, yellow_s=yellow, all_red_s=all_red)
    lead, lag = (side("out_"), side("in_")) if out_leads else (side("in_"), side("out_"))
    return [lead, both, lag]



