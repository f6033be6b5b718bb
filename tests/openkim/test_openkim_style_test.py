"""A Test written the way OpenKIM writes them runs unchanged here, on real installed models.

SurfaceEnergyIdealCubic_fcc_<X> of the example repository: its pipeline.stdin.tpl reads the
upstream lattice constant with query() ($regex on meta.runner.kimcode, a short-name filter,
project of a.si-value, limit), its first line is path() of its driver (the driver's
executable, which the test's runner hands to a shell), its dependencies.edn was made by kimgenie
from the driver's test_template/ (test_kimgenie.py checks that), and its driver is written on
kim_tools' KIMTestDriver. The pipeline's values must be those of the driver run by hand on the
same input.
"""

import subprocess

import kim_edn
import pytest
from kim_property import check_property_instances, get_properties

from repository.models import Model, TestDriver
from runner.execute import run_pair, subprocess_environment
from tests.examples import models
from tests.examples.pipeline import example_test, explain, instance_values, kept, run, values

pytestmark = [pytest.mark.kimapi, pytest.mark.slow, pytest.mark.django_db]

CASES = [("Al", models.AL_MISHIN), ("Cu", models.CU_MISHIN), ("Ar", models.AR_LJ_BERNARDES)]
DRIVER = "SurfaceEnergyIdealCubic__TD_656418997194_000"
J_PER_M2 = 16.021766


@pytest.fixture(scope="module")
def lattices(examples):
    """The upstream lattice-constant result of each case, run through the pipeline once."""
    found = {species: run_pair(example_test(f"LatticeConstantCubicEnergy_fcc_{species}"),
                               Model.objects.get(kim_id=model)) for species, model in CASES}
    yield found
    for outcome in found.values():
        outcome.delete()


def by_hand(rendered_input: str, folder) -> list[dict]:
    """The driver run by hand on the rendered input's driver lines, in a folder of its own."""
    command, driver_input = rendered_input.split("\n", 1)
    done = subprocess.run([command], input=driver_input, text=True, capture_output=True,
                          cwd=folder, env=subprocess_environment(), timeout=300)
    assert done.returncode == 0, done.stderr
    return kim_edn.load(str(folder / "output" / "results.edn"))


@pytest.mark.parametrize("species, model", CASES, ids=[c[0] for c in CASES])
def test_the_openkim_style_test_gives_what_its_driver_gives_by_hand(lattices, species, model, tmp_path):
    lattice = lattices[species]
    assert not hasattr(lattice, "category"), explain(lattice)
    test = example_test(f"SurfaceEnergyIdealCubic_fcc_{species}")
    assert list(test.depends_on.all()) == [lattice.test]  # from kimgenie's dependencies.edn
    result = run(test, model)
    # query() found the upstream result by regex and gave its a in SI units, and it is recorded.
    assert result.provenance["upstream-results"] == [lattice.kim_id]
    rendered = kept(result, "pipeline.stdin")
    lines = rendered.splitlines()
    driver = TestDriver.objects.get(kim_id=DRIVER)
    assert lines[0] == str(driver.path.resolve() / "runner")  # path(): the executable
    assert lines[1:4] == [species, "fcc", model]
    (a,) = values(lattice, "structure-cubic-crystal-npt", "a")
    assert float(lines[4]) == pytest.approx(a * 1e-10, rel=1e-12)

    kept_instances = kim_edn.loads(kept(result, "results.edn"))
    check_property_instances(kept(result, "results.edn"), fp_path=get_properties())
    hand = by_hand(rendered, tmp_path)
    assert [i["miller-indices"]["source-value"] for i in kept_instances] == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert (instance_values(kept_instances, "surface-energy-ideal-cubic-crystal", "ideal-surface-energy")
            == instance_values(hand, "surface-energy-ideal-cubic-crystal", "ideal-surface-energy"))
    gammas = values(result, "surface-energy-ideal-cubic-crystal", "ideal-surface-energy")
    assert all(0 < g * J_PER_M2 < 5 for g in gammas), gammas
    assert min(gammas) == gammas[2], "(111), the close-packed face, costs least"


@pytest.mark.parametrize("species, model", CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_two_drivers_agree_on_the_faces_they_share(lattices, species, model):
    """The kim-tools driver and the drivertools one are independent programs on the same physics."""
    ours = run(example_test(f"SurfaceEnergyIdealCubic_fcc_{species}"), model)
    theirs = run(example_test(f"SurfaceEnergyIdealFCC_fcc_{species}"), model)
    cubic = values(ours, "surface-energy-ideal-cubic-crystal", "ideal-surface-energy")
    fcc = values(theirs, "surface-energy-ideal-cubic-crystal", "ideal-surface-energy")
    assert fcc == [pytest.approx(cubic[0], rel=1e-6), pytest.approx(cubic[2], rel=1e-6)]


def test_the_driver_refuses_what_is_not_its_input(examples, tmp_path):
    runner = TestDriver.objects.get(kim_id=DRIVER).path / "runner"
    done = subprocess.run([str(runner)], input=f"Al\nbcc\n{models.AL_MISHIN}\n4.05e-10\n", text=True,
                          capture_output=True, cwd=tmp_path, env=subprocess_environment(), timeout=120)
    assert done.returncode != 0 and "cleaves fcc crystals, not 'bcc'" in done.stderr
