"""kimgenie: Tests generated from a driver's test_template/ and test_generator.json, then imported."""

import json
import stat

import pytest
from django.core.management import CommandError, call_command

from repository import storage
from repository.importer import import_repository
from repository.models import Test, TestDriver
from runner import kimgenie
from runner.kimgenie import KimGenieError, generate_tests, render_tests
from tests.conftest import EXAMPLES_DIR

pytestmark = pytest.mark.django_db

DRIVER = "Greeter__TD_000000007201_000"
KIMSPEC_GENIE = """{# FILENAME = kimspec.edn #}
{
  "extended-id" "Greet_{{ symbol }}__TE_{{ kimnum }}_{{ version }}"
  "title" "Greets {{ symbol }}{% if loud is defined and loud %} loudly{% endif %}"
  "species" ["{{ symbol }}"]
  "test-driver" "{{ TEST_DRIVER_NAME }}"
  "kim-api-version" "2.3"
  "matching-models" ["standard-models"]
  "executables" ["runner"]
}
"""
TEMPLATE_GENIE = """{# FILENAME = pipeline.stdin.tpl #}
@< path("{{ TEST_DRIVER_NAME }}") >@
{{ symbol | lower }}
@< MODELNAME >@
"""
RUNNER = '#!/bin/sh\nIFS= read -r driver\nexec /bin/sh -c "$driver"\n'


def write_driver(root, generator_lines, extra=None):
    """A driver with a test template (two .genie files, a runner and a data file copied)."""
    folder = root / "td" / DRIVER
    template = folder / "test_template"
    (template / "data").mkdir(parents=True)
    (folder / "kimspec.edn").write_text(
        f'{{"extended-id" "{DRIVER}" "title" "greets" "executables" ["runner"] "kim-api-version" "2.3"}}\n')
    for path, text in {folder / "runner": "#!/bin/sh\ncat\n", template / "runner": RUNNER}.items():
        path.write_text(text)
        path.chmod(0o755)
    (template / "kimspec.edn.genie").write_text(KIMSPEC_GENIE)
    (template / "pipeline.stdin.tpl.genie").write_text(TEMPLATE_GENIE)
    (template / "data" / "table.txt").write_text("{{ copied as it is }}\n")
    for name, text in (extra or {}).items():
        (template / name).write_text(text)
    (folder / "test_generator.json").write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in generator_lines))
    report = import_repository(root)
    assert report.ok, report.rejected
    return TestDriver.objects.get(kim_id=DRIVER)


@pytest.fixture
def source(tmp_path):
    return tmp_path / "source"


def test_generation_writes_and_imports_each_line_s_test(source, repository_dir):
    write_driver(source, [{"symbol": "Ar", "kimnum": "000000007211", "loud": True},
                          "", {"symbol": "Kr", "kimnum": 7212, "version": 2}])
    report = generate_tests(DRIVER)
    assert [t.kim_id for t in report.tests] == ["Greet_Ar__TE_000000007211_000",
                                               "Greet_Kr__TE_000000007212_002"]
    assert report.imported.created == ["Greet_Ar__TE_000000007211_000", "Greet_Kr__TE_000000007212_002"]
    test = Test.objects.get(kim_id="Greet_Ar__TE_000000007211_000")
    assert test.driver.kim_id == DRIVER and test.title == "Greets Ar loudly" and test.species == ["Ar"]
    folder = storage.item_path(test.kim_id)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "data/table.txt", "kimspec.edn", "pipeline.stdin.tpl", "runner"]
    # The FILENAME comment named the file and left no line behind; other files are copied as they are.
    assert (folder / "pipeline.stdin.tpl").read_text() == f'@< path("{DRIVER}") >@\nar\n@< MODELNAME >@\n'
    assert (folder / "data" / "table.txt").read_text() == "{{ copied as it is }}\n"
    assert (folder / "runner").stat().st_mode & stat.S_IXUSR
    assert Test.objects.get(kim_id="Greet_Kr__TE_000000007212_002").title == "Greets Kr"


def test_a_dry_run_renders_everything_and_writes_nothing(source, repository_dir):
    write_driver(source, [{"symbol": "Ar", "kimnum": "000000007221"}])
    report = generate_tests(DRIVER, dry_run=True)
    assert [t.kim_id for t in report.tests] == ["Greet_Ar__TE_000000007221_000"] and report.imported is None
    assert not Test.objects.exists() and not (repository_dir / "te").exists()


def test_random_kimnums_are_twelve_digits_no_test_has(source, repository_dir):
    write_driver(source, [{"symbol": "Ar"}, {"symbol": "Kr"}])
    with pytest.raises(KimGenieError, match="no kimnum") as caught:
        render_tests(TestDriver.objects.get(kim_id=DRIVER))
    assert caught.value.line == 1
    tests = generate_tests(DRIVER, add_random_kimnums=True).tests
    numbers = {t.variables["kimnum"] for t in tests}
    assert len(numbers) == 2 and all(len(n) == 12 and n.isdigit() for n in numbers)
    assert set(Test.objects.values_list("number", flat=True)) == numbers


@pytest.mark.parametrize("lines, extra, message", [
    (['{"symbol": "Ar", "kimnum": "000000007231"}', "{not json"], None, "not a JSON object"),
    (['["Ar"]'], None, "each line is one JSON object"),
    ([{"symbol": "Ar", "kimnum": "12"}], None, "must be 12 digits"),
    ([{"symbol": "Ar", "kimnum": "000000007232"}, {"symbol": "Ar", "kimnum": "000000007232"}], None,
     "both make Greet_Ar__TE_000000007232_000"),
    ([{"symbol": "Ar", "kimnum": "000000007233"}], {"x.genie": "{# FILENAME = ../../escape #}\n"},
     "is not a file inside the test"),
    ([{"symbol": "Ar", "kimnum": "000000007234"}], {"x.genie": "{{ symbol.__class__.__mro__ }}"},
     "generator line 1"),
    ([{"symbol": "Ar", "kimnum": "000000007235"}], {"x.genie": "{{ undefined_variable }}"},
     "undefined_variable"),
    ([{"symbol": "Ar", "kimnum": "000000007236"}], {"x.genie": "{% if %}"}, "template syntax"),
    ([{"symbol": "Ar", "kimnum": "000000007237"}], {"x.genie": "{# FILENAME = kimspec.edn #}\n{}"},
     "two template files make kimspec.edn"),
])
def test_a_bad_template_or_generator_is_a_named_error(source, repository_dir, lines, extra, message):
    write_driver(source, lines, extra)
    with pytest.raises(KimGenieError, match=message):
        generate_tests(DRIVER)
    assert not Test.objects.exists()


def test_the_extended_id_must_carry_the_line_s_kimnum(source, repository_dir):
    driver = write_driver(source, [{"symbol": "Ar", "kimnum": "000000007241"}])
    genie = driver.path / "test_template" / "kimspec.edn.genie"
    genie.write_text(genie.read_text().replace("{{ kimnum }}", "000000000001"))
    with pytest.raises(KimGenieError, match="does not carry kimnum 000000007241"):
        generate_tests(DRIVER)


def test_a_driver_without_a_template_is_refused(source, repository_dir):
    write_driver(source, [{"symbol": "Ar", "kimnum": "000000007251"}])
    (source / "td").rename(source / "elsewhere")
    other = source / "td" / "Plain__TD_000000007252_000"
    other.mkdir(parents=True)
    (other / "kimspec.edn").write_text('{"extended-id" "Plain__TD_000000007252_000" "executables" ["runner"]}\n')
    (other / "runner").write_text("#!/bin/sh\n")
    (other / "runner").chmod(0o755)
    import_repository(source)
    with pytest.raises(KimGenieError, match="no test_template/"):
        generate_tests("TD_000000007252")


def test_the_command_is_thin_over_generate_tests(source, repository_dir, capsys):
    write_driver(source, [{"symbol": "Ar", "kimnum": "000000007261"}])
    call_command("generatetests", "TD_000000007201", "--dry-run")
    out = capsys.readouterr().out
    assert "Greet_Ar__TE_000000007261_000 (generator line 1)" in out and "nothing written" in out
    call_command("generatetests", "Greeter__TD_000000007201")
    assert "1 created" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no test driver answers"):
        call_command("generatetests", "TD_000000009999")


def test_query_at_generation_asks_this_database(source, repository_dir):
    """A .genie may call query(): here the obj database, for an upstream test's short code."""
    upstream = source / "te" / "Upstream_Ar__TE_000000007271_000"
    upstream.mkdir(parents=True)
    (upstream / "kimspec.edn").write_text(
        '{"extended-id" "Upstream_Ar__TE_000000007271_000" "species" ["Ar"] "executables" ["runner"]'
        ' "matching-models" ["standard-models"] "kim-api-version" "2.3"}\n')
    (upstream / "runner").write_text("#!/bin/sh\n")
    (upstream / "runner").chmod(0o755)
    (upstream / "pipeline.stdin.tpl").write_text("@< MODELNAME >@\n")
    write_driver(source, [{"symbol": "Ar", "kimnum": "000000007272"}], {"dependencies.edn.genie": (
        '{# FILENAME = dependencies.edn #}\n["{{ query({"database": "obj", "query": {"type": "te",'
        ' "kimcode": {"$regex": "^Upstream_" ~ symbol ~ "__"}}, "project": ["shortcode"]})[0] }}"]\n')})
    generate_tests(DRIVER)
    test = Test.objects.get(kim_id="Greet_Ar__TE_000000007272_000")
    assert (storage.item_path(test.kim_id) / "dependencies.edn").read_text() == '["TE_000000007271"]\n'
    assert [t.kim_id for t in test.depends_on.all()] == ["Upstream_Ar__TE_000000007271_000"]


def test_a_query_the_api_refuses_is_a_kimgenie_error(source, repository_dir):
    write_driver(source, [{"symbol": "Ar", "kimnum": "000000007281"}], {
        "x.genie": '{{ query({"database": "obj", "query": {"kimcode": {"$nosuchoperator": 1}}}) }}'})
    with pytest.raises(KimGenieError, match="query\\(\\)"):
        generate_tests(DRIVER)


def test_the_example_driver_s_tests_are_what_kimgenie_makes(examples):
    """The committed SurfaceEnergyIdealCubic tests, byte for byte and mode for mode."""
    driver = TestDriver.objects.get(kim_id__startswith="SurfaceEnergyIdealCubic__TD_")
    tests = render_tests(driver)
    assert len(tests) == 3
    for test in tests:
        committed = EXAMPLES_DIR / "te" / test.kim_id
        assert sorted(p.name for p in committed.iterdir()) == sorted(test.files)
        for name, content in test.files.items():
            assert (committed / name).read_bytes() == content, (test.kim_id, name)
            assert bool((committed / name).stat().st_mode & stat.S_IXUSR) == (name in test.executables)
        # dependencies.edn came from query() on the obj database: the lattice test of that crystal.
        (upstream,) = Test.objects.get(kim_id=test.kim_id).depends_on.all()
        assert upstream.kim_id.startswith(f"LatticeConstantCubicEnergy_fcc_{test.variables['symbol']}__")


def test_kimgenie_names_its_files():
    assert (kimgenie.TEMPLATE_FOLDER, kimgenie.GENERATOR_FILE) == ("test_template", "test_generator.json")
