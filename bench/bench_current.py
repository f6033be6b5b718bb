"""A pair's current outcome, asked once per job: ``latest_outcome`` against the same question
built by the ORM each time.

Run: ``.venv/bin/python bench/bench_current.py [--pairs 50] [--repeat 5]`` (SQLite in a
throw-away KIM_DIR; ``--database-url postgres://…`` for an empty PostgreSQL database).

A test with a result on each of ``--pairs`` models (and an error superseding it on every
third), then each pair asked ``--repeat`` times. The baseline, in the same run: the query of
``repository.models.current`` built and compiled by Django at every ask (what
``latest_outcome`` did before ``repository.compiled``). Both must give the same outcomes.
"""

import argparse
import os
import shutil
import statistics
import time

from benchsetup import scratch_folder, setup_django


def per_pair_ms(ask, pairs, repeat: int) -> tuple[float, list]:
    """Median ms a pair over ``repeat`` rounds, after one untimed round (a compile, caches)."""
    answers = [ask(test, model) for test, model in pairs]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answers = [ask(test, model) for test, model in pairs]
        times.append((time.perf_counter() - started) * 1000 / len(pairs))
    return statistics.median(times), answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    os.environ["DEBUG"] = "0"  # no query log kept on either side
    scratch = scratch_folder("bench-current-")
    try:
        setup_django(scratch, database_url=args.database_url)
        measure(args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(args) -> None:
    from django.db import connection

    from repository.models import latest_outcome
    from repository.models.current import _current_of_pair, outcome_tables
    from tests.factories import make_error, make_model, make_result, make_test

    test = make_test()
    models = [make_model(number=1000 + n, name=f"Bench{n}") for n in range(args.pairs)]
    for n, model in enumerate(models):
        make_result(test, model, 2 * n + 1, minutes=n)
        if n % 3 == 0:
            make_error(model, 2 * n + 2, test=test, minutes=n + 0.5)
    pairs = [(test, model) for model in models]

    def built_each_time(runner, subject):
        found = [_current_of_pair(table, runner.number, subject.number).first()
                 for table in outcome_tables(runner.leader)]
        found = [row for row in found if row is not None]
        return max(found, key=lambda o: (o.runner_version, o.subject_version, o.created_at))

    baseline, expected = per_pair_ms(built_each_time, pairs, args.repeat)
    compiled, answers = per_pair_ms(latest_outcome, pairs, args.repeat)
    if [o.kim_id for o in answers] != [o.kim_id for o in expected]:
        raise SystemExit("latest_outcome and the ORM-built question disagree")
    print(f"{connection.vendor}: {args.pairs} pairs × {args.repeat}; latest_outcome "
          f"{compiled:.2f} ms a pair; baseline, the query built by the ORM at each ask, "
          f"{baseline:.2f} ms a pair")
    print(f"ratio compiled/built: {compiled / baseline:.2f}")


if __name__ == "__main__":
    main()
