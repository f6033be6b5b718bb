"""Server time and query count of the site's pages on a PostgreSQL database of N test results.

Run: ``nice -n 10 .venv/bin/python bench/bench_site.py [--models 500 --tests 2000]`` (the
full size: 1,000,000 results, three property values each). Makes a scratch database on
127.0.0.1:5432 (dropped at the end), fills it with COPY, and measures each page through
Django's test client (server time: request to response, no network) and its queries.
The baseline is the same pages measured in the same run on a small fill
(``--baseline-models`` × ``--baseline-tests``) of the same database before it grows:
the ratio says how a page's time grows with the rows, the query counts must not grow.

The fill is most of the run: ``--keep`` keeps the database (its name is printed) and
``--reuse NAME`` measures that database again without filling it (migrations are applied
first, so a new index or table is measured; no baseline then: it would need an empty database).
"""

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchsetup import scratch_folder, setup_django  # noqa: E402
from tests.fixtures.pipeline.site import (  # noqa: E402
    POSTGRES_ADMIN_URL,
    drop_postgres_database,
    postgres_admin,
    postgres_unreachable,
)

PROPERTY = "structure-cubic-crystal-npt"
PROPERTY_ID = f"tag:staff@noreply.openkim.org,2014-04-15:property/{PROPERTY}"
SPECIES = ("Al", "Ar", "Cu", "Fe", "Ni", "Si", "W", "Mo", "Au", "Ag")
STRUCTURES = ("fcc", "bcc", "sc", "diamond")


def make_items(first_model: int, models: int, first_test: int, tests: int):
    from repository.models import Model, Test

    model_rows = Model.objects.bulk_create(
        Model(kim_id=f"BenchModel{i}_{SPECIES[i % len(SPECIES)]}__MO_{i:012d}_000",
              name=f"BenchModel{i}_{SPECIES[i % len(SPECIES)]}", leader="MO", number=f"{i:012d}",
              version=0, title=f"bench model {i}", species=[SPECIES[i % len(SPECIES)]])
        for i in range(first_model, first_model + models))
    test_rows = Test.objects.bulk_create(
        Test(kim_id=f"BenchLattice_{STRUCTURES[i % 4]}_{SPECIES[i % len(SPECIES)]}__TE_{i:012d}_000",
             name=f"BenchLattice_{STRUCTURES[i % 4]}_{SPECIES[i % len(SPECIES)]}", leader="TE",
             number=f"{i:012d}", version=0, title=f"bench lattice constant {i}",
             species=[SPECIES[i % len(SPECIES)]])
        for i in range(first_test, first_test + tests))
    return model_rows, test_rows


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def fill_results(tests, models, first_id: int) -> int:
    """Every test × every model: one result with its instance and three property values, by COPY."""
    from django.db import connection

    result_columns = ["id", "kim_id", "model_id", "test_id", "runner_number", "runner_version",
                      "subject_number", "subject_version", "created_at", "runtime", "provenance",
                      "stale", "instances"]
    value_columns = ["result_id", "instance", "property_id", "property_name", "key", "value", "unit"]
    provenance = json.dumps({"profiling": {"runtime": 1.0}, "upstream-results": [], "exit-code": 0})

    def results():
        rid = first_id
        for t in tests:
            for m in models:
                a = 3.0 + (int(m.number) % 97) / 50 + (int(t.number) % 13) / 100
                instance = json.dumps([{"property-id": PROPERTY_ID, "instance-id": 1,
                                        "a": {"source-value": a, "source-unit": "angstrom"},
                                        "short-name": {"source-value": ["fcc"]},
                                        "species": {"source-value": m.species * 4}}])
                yield (rid, f"TR_{rid:012d}_000", m.pk, t.pk, t.number, 0, m.number, 0,
                       "2026-01-01T00:00:00+00:00", 1.0, provenance, False, instance), a
                rid += 1

    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        values_buffer = []
        batch = []
        count = 0
        for row, a in results():
            batch.append(row)
            values_buffer += [(row[0], 1, PROPERTY_ID, PROPERTY, "a", json.dumps(a), "angstrom"),
                              (row[0], 1, PROPERTY_ID, PROPERTY, "short-name", '["fcc"]', ""),
                              (row[0], 1, PROPERTY_ID, PROPERTY, "species", '["X"]', "")]
            if len(batch) >= 50_000:
                _copy(cursor, "repository_testresult", result_columns, batch)
                _copy(cursor, "repository_propertyvalue", value_columns, values_buffer)
                count += len(batch)
                batch, values_buffer = [], []
        if batch:
            _copy(cursor, "repository_testresult", result_columns, batch)
            _copy(cursor, "repository_propertyvalue", value_columns, values_buffer)
            count += len(batch)
        cursor.execute("SELECT setval(pg_get_serial_sequence('repository_testresult', 'id'), "
                       "(SELECT MAX(id) FROM repository_testresult))")
        cursor.execute("ANALYZE")
    return count


def reference_items() -> None:
    from repository.models import Property, ReferenceDatum

    prop = Property.objects.create(kim_id="structure_cubic_crystal_npt__PR_110425337914_000",
                                   property_id=PROPERTY_ID, short_name=PROPERTY)
    ReferenceDatum.objects.create(
        kim_id="BenchLattice_Kittel2005__RD_358987416748_000", species=["Al"], property=prop,
        data=[{"property-id": PROPERTY_ID, "instance-id": 1, "short-name": {"source-value": ["fcc"]},
               "a": {"source-value": 4.05, "source-unit": "angstrom"}}])


def pages(model, test) -> dict[str, str]:
    return {
        "home": "/",
        "matrix": "/browse/results",
        "matrix species": "/browse/results?species=Al",
        "model": f"/id/{model.kim_id}",
        "test": f"/id/{test.kim_id}",
        "property": f"/properties/{PROPERTY}?test={test.kim_id}",
        "test plot (svg)": f"/plots/test/{test.kim_id}.svg?property={PROPERTY}&key=a",
        "results admin": "/admin/repository/testresult/",
        "property values admin": "/admin/repository/propertyvalue/",
        "JSON matrix": "/browse/results?format=json",
        "JSON model": f"/id/{model.kim_id}?format=json",
    }


def measure(client, urls: dict[str, str], repeat: int) -> dict[str, tuple[float, int, float, float]]:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    figures = {}
    for url in urls.values():
        client.get(url)  # warm: imports, compiled templates, the connection
    for name, url in urls.items():
        times, queries, slowest = [], 0, 0.0
        for _ in range(repeat):
            cache.clear()  # every visit pays for its counts and plots: the worst case
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                if hasattr(response, "streaming_content"):
                    b"".join(response.streaming_content)
                times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
            slowest = max([float(q["time"]) for q in captured] or [0.0])
        start = time.perf_counter()
        client.get(url)  # again, with what the first visit cached (counts, plots, property tests)
        warm = time.perf_counter() - start
        figures[name] = (statistics.median(times), queries, slowest, warm)
    return figures


def report(full: dict, baseline: dict | None, filled: int) -> None:
    print("cold: every visit with an empty cache (counts, plots recomputed); warm: a second visit")
    print(f"{'page':24} {'baseline ms':>12} {'full ms':>9} {'ratio full/baseline':>20} "
          f"{'queries base/full':>18} {'slowest query ms':>17} {'warm full ms':>13}")
    for page, (seconds, queries, slowest, warm) in full.items():
        base_seconds, base_queries, _, _ = baseline[page] if baseline else (None, "-", 0, 0)
        print(f"{page:24} {1000 * base_seconds if base_seconds else float('nan'):12.1f} "
              f"{1000 * seconds:9.1f} {seconds / base_seconds if base_seconds else float('nan'):20.2f} "
              f"{base_queries:>8}/{queries:<9} {1000 * slowest:17.1f} {1000 * warm:13.1f}")
    slowest = max(full.items(), key=lambda item: item[1][0])
    print(f"slowest page at {filled:,} results: {slowest[0]} {1000 * slowest[1][0]:.0f} ms"
          + ("; ratio full/baseline printed per page" if baseline else ""))


def measure_again(name: str, repeat: int) -> int:
    """The pages of a database an earlier ``--keep`` run filled: no fill, no baseline."""
    try:
        setup_django(scratch_folder("bench-site-"),
                     database_url=POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        from django.contrib.auth.models import User
        from django.test import Client

        from repository.models import Model, Test, TestResult

        client = Client(HTTP_HOST="localhost")
        client.force_login(User.objects.get(username="bench"))
        # The first model and test of the fill: the ones the full run measured.
        model, test = Model.objects.order_by("number").first(), Test.objects.order_by("number").first()
        filled = TestResult.objects.count()
        print(f"reusing {name}: {filled:,} results")
        report(measure(client, pages(model, test), repeat), None, filled)
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        print(f"kept database {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--baseline-models", type=int, default=20)
    parser.add_argument("--baseline-tests", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch database (its name is printed) for EXPLAIN or --reuse")
    parser.add_argument("--reuse", metavar="NAME",
                        help="measure a database an earlier --keep run filled (kept again), no fill")
    args = parser.parse_args()
    reason = postgres_unreachable()
    if reason:
        print(f"bench_site needs PostgreSQL: {reason}")
        return 1
    if args.reuse:
        return measure_again(args.reuse, args.repeat)
    name = f"bench_site_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        setup_django(scratch_folder("bench-site-"),
                     database_url=POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        from django.contrib.auth.models import User
        from django.test import Client

        client = Client(HTTP_HOST="localhost")
        client.force_login(User.objects.create_superuser("bench", "bench@example.org", "x"))
        reference_items()
        base_models = min(args.baseline_models, args.models)
        base_tests = min(args.baseline_tests, args.tests)
        models, tests = make_items(1, base_models, 100_001, base_tests)
        start = time.perf_counter()
        filled = fill_results(tests, models, 1)
        print(f"baseline: {filled:,} results ({base_models} models × {base_tests} tests) "
              f"in {time.perf_counter() - start:.1f} s")
        urls = pages(models[0], tests[0])
        baseline = measure(client, urls, args.repeat)
        more_models, more_tests = make_items(1 + base_models, args.models - base_models,
                                             100_001 + base_tests, args.tests - base_tests)
        start = time.perf_counter()
        filled += fill_results(tests, more_models, filled + 1)  # old tests × new models
        filled += fill_results(more_tests, models + more_models, filled + 1)
        print(f"full: {filled:,} results ({args.models} models × {args.tests} tests, "
              f"{3 * filled:,} property values) in {time.perf_counter() - start:.1f} s")
        full = measure(client, urls, args.repeat)
        report(full, baseline, filled)
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_postgres_database(name)


if __name__ == "__main__":
    sys.exit(main())
