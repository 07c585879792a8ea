"""The four-signal corridor of the end-to-end tests (workflow, bench): a TOML spec."""

# Four signals 400 m apart, C = 60 s, band speed 48 km/h: a link takes exactly 30 s = C/2, so
# the alternate system (offsets 0, 30, 0, 30) carries the whole 35 s green in both directions.
SMALL = """
[corridor]
name = "small"
speed_kmh = 48.0
speed_limit_kmh = 50.0
approach_m = 200.0
cross_link_m = 150.0

[signals]
cycle_s = 60.0

[phase_templates.two]
phases = [
  { name = "main", green_s = 35.0, protected = ["out_T", "out_R", "in_T", "in_R"], permitted = ["out_L", "in_L"] },
  { name = "cross", green_s = 15.0, protected = ["cross_T", "cross_R"], permitted = ["cross_L"] },
]

[[intersection]]
id = "A"
position_m = 0.0
template = "two"
[[intersection]]
id = "B"
position_m = 400.0
template = "two"
[[intersection]]
id = "C"
position_m = 800.0
template = "two"
[[intersection]]
id = "D"
position_m = 1200.0
template = "two"

[[period]]
name = "offpeak"
duration_s = 900.0
main_out_vph = 500.0
main_in_vph = 500.0
cross_major_vph = 100.0
cross_minor_vph = 60.0
left_share = 0.0
right_share = 0.0
"""
