"""One small published world for the page tests: a driver, a test, models, results with values,
a check with grades, an error, a property with reference data, and a model under review."""

from dataclasses import dataclass

from repository.models import Model, Property, ReferenceDatum, Status, TestDriver
from tests.factories import (
    make_check,
    make_error,
    make_model,
    make_result,
    make_test,
    make_values,
    make_verification_result,
)

PROPERTY = "structure-cubic-crystal-npt"
PROPERTY_ID = f"tag:staff@noreply.openkim.org,2014-04-15:property/{PROPERTY}"
#: Text in every curator-only field of the cast: no public page or JSON may show it.
SECRET = "curator-only-7d1c"
#: In the title of the model under review: only curators see that it exists.
UNDER_REVIEW = "under-review-5e2a"


@dataclass
class Cast:
    driver: TestDriver
    test: object
    models: list
    results: list
    check: object
    grade: object
    error: object
    pending: Model
    reference: ReferenceDatum


def write_result_folder(result, *, stdout: str = "", stderr: str = "") -> None:
    folder = result.path
    folder.mkdir(parents=True)
    (folder / "results.edn").write_text(f'[{{"property-id" "{PROPERTY_ID}" "instance-id" 1}}]\n')
    (folder / "pipeline.stdin").write_text(f"{result.model.kim_id}\n")
    (folder / "pipeline.stdout").write_text(stdout)
    (folder / "pipeline.stderr").write_text(stderr)


def make_cast(repository_dir) -> Cast:
    driver = TestDriver.objects.create(kim_id="LatticeConstantCubicEnergy__TD_475411767977_000",
                                       title="cubic lattice constant driver",
                                       content_hash=SECRET)
    test = make_test("LatticeConstantCubicEnergy_fcc_Ar", 514507648222, driver=driver,
                     content_hash=SECRET)
    models = [make_model(f"LJ_Ar_{n}", 100 + n, content_hash=SECRET) for n in range(3)]
    results = []
    for n, (model, a) in enumerate(zip(models, (5.20, 5.26, 5.31), strict=True)):
        result = make_result(test, model, 700 + n, minutes=n,
                             provenance={"environment": {"host": SECRET}, "upstream-results": [],
                                         "profiling": {"runtime": 1.5}})
        make_values(result, PROPERTY, a=(a, "angstrom"), short_name=(["fcc"], ""),
                    species=(["Ar"] * 4, ""), temperature=(0, "K"))
        results.append(result)
    write_result_folder(results[0], stdout="<script>alert(1)</script>\n" + "x" * 30_000,
                        stderr="warning: & <b>bold</b>")
    check = make_check("SpeciesSupportedAsStated", 600, graded=True)
    grade = make_verification_result(check, models[0], 800, grade="A",
                                     instances=[{"property-id": "verification-check",
                                                 "grade": {"source-value": "A"},
                                                 "error": {"source-value": 0.0}}])
    error = make_error(models[2], 900, test=make_test("BulkModulus_fcc_Ar", 514507648223),
                       category="timeout", message="took too long")
    pending = make_model("Pending_Ar", 555, status=Status.PENDING, title=f"pending {UNDER_REVIEW}")
    prop = Property.objects.create(kim_id="structure_cubic_crystal_npt__PR_110425337914_000",
                                   property_id=PROPERTY_ID, short_name=PROPERTY)
    reference = ReferenceDatum.objects.create(
        kim_id="LatticeConstant_fcc_Ar_Kittel2005__RD_358987416748_000", species=["Ar"],
        property=prop, citation="Kittel 2005",
        data=[{"property-id": PROPERTY_ID, "instance-id": 1,
               "short-name": {"source-value": ["fcc"]},
               "a": {"source-value": 5.26, "source-unit": "angstrom"}}])
    return Cast(driver, test, models, results, check, grade, error, pending, reference)
