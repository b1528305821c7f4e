"""Simulator profiles (schema/profiles/*.toml) and replayed module dumps.

Checked in codegen.sim.profile, which reports under these names (and
PROFILE-RELEASE by the compiler too, which lists every profile's release
for the docs); declared here so the registry holds every rule.  Their bad cases are in
tests/test_sim_profile.py (see tests/test_rules.py).
"""

from codegen.spec.rules import error

RULES = (
    error(
        "PROFILE-KEY",
        "A profile has only the tables [profile], [values], [fill] and "
        "[quirks], and only their keys.",
    ),
    error("PROFILE-RELEASE", "[profile] names the module release as a release string."),
    error("PROFILE-FIELD", "Every field a profile gives a value is a field of the schema."),
    error(
        "PROFILE-RELEASE-FIELD",
        "A profile gives values only to fields its release has.",
        "a module's metadata table holds the fields of its release",
    ),
    error(
        "PROFILE-FIELD-SET",
        "A profile that models a module table (table = ...) gives a "
        "value to every field its release has.",
        "a module's table holds exactly the fields of its release",
    ),
    error(
        "PROFILE-VALUE",
        "A value is an integer that fits the field's element.",
        "an element holds element_size bytes",
    ),
    error(
        "PROFILE-SHAPE", "A value has the field's shape: one integer, a list, or lists of elements."
    ),
    error(
        "PROFILE-CAPACITY",
        "An array is given at most num_fields values.",
        "a field entry holds num_fields fields",
    ),
    error("PROFILE-COUNT", "A live count equals the number of values of the array it counts."),
    error(
        "REPLAY-PAGES",
        "A replayed TDH.SYS.RDALL dump is whole pages of sequences.",
        "TDH.SYS.RDALL writes 4 KB pages of sequence headers and elements",
    ),
    error("REPLAY-FIELD", "Every field of a replay is a schema field with its id and shape."),
    error("REPLAY-JSON", "A replayed JSON dump is in the simulator's dump format."),
)
