"""SUMO at the edges: binaries, network building, programs, simulation."""
