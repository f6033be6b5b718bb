"""How long deciding one new model's candidate tests takes with 10,000 tests in the database.

Run: ``.venv/bin/python bench/bench_matching.py [--tests N]``. Sets up Django itself on an SQLite
database in a temporary folder; the KIM API is not asked (rules 1–4 only, as the director does
before the batched authoritative check).
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchsetup import bench_root, setup_django

SPECIES = ["Ar", "Al", "Cu", "Ni", "Fe", "W", "Si", "C", "Mo", "Ag", "Au", "Ti", "Zr", "Mg", "O", "H"]



def synthetic_tests(count: int, rng: random.Random):
    from repository.models import Test

    rows = []
    for index in range(count):
        species = rng.sample(SPECIES, rng.choice([1, 1, 1, 2, 2, 3]))
        simulator = rng.random() < 0.1
        test = Test(kim_id=f"Synthetic_{'_'.join(species)}__TE_{index + 1:012d}_000",
                    species=species, kim_api_version=rng.choice(["2.0", "2.2", "2.3", "3.0"]),
                    matching_models=["meam/c"] if simulator else ["standard-models"],
                    simulator_name="LAMMPS" if simulator else "")
        test.set_code(test.kim_id)  # bulk_create skips save()
        rows.append(test)
    Test.objects.bulk_create(rows, batch_size=1000)


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-matching-", dir=bench_root()) as scratch:
        setup_django(Path(scratch))
        from repository import matching
        from repository.models import Model, Test

        synthetic_tests(args.tests, random.Random(2012))
        model = Model.objects.create(kim_id="EAM_New_AlNi__MO_999999999999_000", species=["Al", "Ni"],
                                     kim_api_version="2.2")
        matching.installed_api_version()  # read the KIM API version once, outside the timings

        def database_candidates():
            table = matching.runner_table(model, authoritative=False, checks=Test.objects.none())
            return {facts.kim_id for facts, verdict in table if verdict.ok}

        def naive_per_pair():
            return {test.kim_id for test in Test.objects.all()
                    if matching.match(test, model, authoritative=False)}

        def per_pair_queries():
            return {test.kim_id for pk in Test.objects.values_list("pk", flat=True)
                    if matching.match(test := Test.objects.get(pk=pk), model, authoritative=False)}

        fast, candidates = timed(database_candidates, args.repeat)
        naive, naive_candidates = timed(naive_per_pair, max(1, args.repeat // 2))
        queries, query_candidates = timed(per_pair_queries, 1)
        assert candidates == naive_candidates == query_candidates, "the three ways disagree"
        print(f"tests in the database: {Test.objects.count()}; candidates for {model.kim_id}: "
              f"{len(candidates)}")
        print(f"values_list + set rules (median of {args.repeat}): {fast * 1000:8.1f} ms")
        print(f"baseline: ORM objects, match() per pair:  {naive * 1000:8.1f} ms  "
              f"({naive / fast:.1f}x slower)")
        print(f"baseline: one ORM query per pair:         {queries * 1000:8.1f} ms  "
              f"({queries / fast:.1f}x slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
