"""Every check on installed models of seven families, through the pipeline: the grades OpenKIM's
definitions give them, each explained where it is not a pass."""

import pytest

from .. import broken
from .running import figures, run_check

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db, pytest.mark.dbneutral]

FAMILIES = {
    "LJ": "LJ_Smoothed_Bernardes_1958_Ar__MO_764178710049_001",
    "Morse": "Morse_Shifted_GirifalcoWeizer_1959HighCutoff_Cu__MO_151002396060_004",
    "EAM": "EAM_Dynamo_MishinFarkasMehl_1999_Al__MO_651801486679_005",
    "Stillinger-Weber": "SW_StillingerWeber_1985_Si__MO_405512056662_005",
    "Tersoff": "Tersoff_LAMMPS_Tersoff_1988_C__MO_579868029681_003",
    "MEAM": "MEAM_LAMMPS_AsadiZaeemNouranian_2015_Cu__MO_390178379548_000",
    "SNAP": "SNAP_ZuoChenLi_2019_Mo__MO_014123846623_000",
}
#: Grades that are not a pass, and why.
EXCEPTIONS = {
    # A shifted Morse: the energy goes to zero at the cutoff, its derivative jumps there.
    ("Morse", "DimerContinuityC1"): "F",
}
PAIRS = [(family, check) for family in FAMILIES for check in broken.CHECKS]


@pytest.mark.parametrize(("family", "check"), PAIRS, ids=[f"{f}-{c}" for f, c in PAIRS])
def test_every_check_on_every_family(examples, family, check):
    result = run_check(check, FAMILIES[family])
    passing = "A" if check == "ForcesNumerDeriv" else "P"
    assert result.grade == EXCEPTIONS.get((family, check), passing), figures(result)
    report = (result.path / "output" / "report.txt").read_text()
    assert report.rstrip().endswith(f"Grade: {result.grade}")


def test_the_morse_jump_is_in_the_derivative_at_the_cutoff(examples):
    result = run_check("DimerContinuityC1", FAMILIES["Morse"])
    (grade, comment), = figures(result).values()
    assert grade == "F" and "continuous to order 0; dE/dr has a jump" in comment
