"""The query API at scale: a typical template query over N property instances, against a naive
full scan measured in the same run, on SQLite and on PostgreSQL.

Run: ``.venv/bin/python bench/bench_query.py --instances 1000000 [--backends sqlite,postgres]``.
Each backend runs in a process of its own (Django is set up once per process) on a database of
its own (a temporary SQLite file; a throw-away PostgreSQL database, dropped afterwards).

The documents are written straight into queryapi's table (as ``rebuildquerydocs`` writes them):
M models × 100 tests × 5 properties, one instance each, so each model holds 500 instances.
Timed (median of ``--repeat``): the template query of OpenKIM's surface-energy tests (runner
``$regex`` + subject + property ``$regex`` + ``short-name``), get_test_result's query (runner,
subject and property exact), get_lattice_constant_cubic (subject, property, crystal, species),
a count of one runner's documents; the baseline reads every document and matches in Python.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchsetup import scratch_folder, setup_django  # noqa: E402

LATTICES = ("fcc", "bcc", "sc", "diamond")
SPECIES = ("Al", "Cu", "Ni", "Ag", "Au", "Fe", "Mo", "W", "Si", "C", "Ar", "Pd", "Pt", "Pb",
           "Ta", "Nb", "V", "Cr", "Li", "Na", "K", "Ge", "Ir", "Rh", "Ca")
PROPERTIES = ("structure-cubic-crystal-npt", "cohesive-potential-energy-cubic-crystal",
              "bulk-modulus-isothermal-cubic-crystal-npt",
              "elastic-constants-isothermal-cubic-crystal-npt", "surface-energy-ideal-cubic-crystal")
TAG = "tag:staff@noreply.openkim.org,2014-04-15:property/"


def tests():
    """100 (test KIM ID, lattice, species)."""
    return [(f"LatticeConstantCubicEnergy_{lattice}_{symbol}__TE_{100000000000 + n:012d}_000",
             lattice, symbol) for n, (lattice, symbol) in enumerate(
                 (lattice, symbol) for lattice in LATTICES for symbol in SPECIES)]


def model_id(number: int) -> str:
    return f"EAM_Bench_{number}_X__MO_{200000000000 + number:012d}_000"


def item(kim_id: str) -> dict:
    name, code = kim_id.split("__")
    leader, number, version = code.split("_")
    return {"kimcode": kim_id, "extended-id": kim_id, "short-id": code,
            "shortcode": f"{leader}_{number}", "kimnum": number, "version": int(version),
            "name": name, "type": leader.lower()}


def fill(instances: int) -> int:
    from queryapi.models import QueryDocument

    models = max(1, instances // 500)
    batch, written = [], 0
    for m in range(models):
        subject = model_id(m)
        for t, (test, lattice, symbol) in enumerate(tests()):
            for p, short in enumerate(PROPERTIES):
                uuid = f"TR_{(m * 100 + t) % 10**12:012d}_000"
                a = 3.0 + (m % 97) / 100 + t / 1000
                document = {
                    "property-id": TAG + short, "instance-id": p + 1,
                    "short-name": {"source-value": [lattice]},
                    "species": {"source-value": [symbol] * 4},
                    "a": {"source-value": a, "source-unit": "angstrom", "si-value": a * 1e-10,
                          "si-unit": "m"},
                    "temperature": {"source-value": 0, "source-unit": "K", "si-value": 0},
                    "meta": {"uuid": uuid, "type": "tr", "created_on": "2026-01-01T00:00:00",
                             "runner": {**item(test), "driver": item(
                                 "LatticeConstantCubicEnergy__TD_475411767977_000")},
                             "subject": item(subject)},
                }
                batch.append(QueryDocument(
                    database="data", key=f"{uuid}#{p + 1}", source=uuid, kind="tr",
                    runner_kimcode=test, runner_number=test.split("_")[-2],
                    subject_kimcode=subject, subject_number=subject.split("_")[-2],
                    property_id=TAG + short, latest=True, document=document))
                written += 1
                if len(batch) >= 5000:
                    QueryDocument.objects.bulk_create(batch)
                    batch.clear()
                if written >= instances:
                    break
            if written >= instances:
                break
        if written >= instances:
            break
    QueryDocument.objects.bulk_create(batch)
    return models


def queries(models: int) -> dict[str, dict]:
    subject = model_id(models // 2)
    test, _, _ = tests()[len(tests()) // 3]
    return {
        "template query (runner $regex + subject + property $regex + short-name)": {
            "database": "data", "query": {
                "meta.runner.kimcode": {"$regex": "LatticeConstantCubicEnergy_sc_Ni__TE_[0-9]{12}"},
                "meta.subject.kimcode": subject,
                "property-id": {"$regex": "property/structure-cubic-crystal-npt"},
                "short-name.source-value": "sc"},
            "project": ["a.si-value"], "fields": {"a.si-value": 1}, "limit": 1},
        "get_test_result's query (runner, subject, property exact)": {
            "database": "data", "query": {"meta.runner.kimcode": test, "meta.subject.kimcode": subject,
                                          "property-id": TAG + PROPERTIES[0]},
            "project": ["a.source-value"]},
        "get_lattice_constant_cubic's query (subject, property, crystal, species)": {
            "database": "data", "query": {
                "meta.subject.kimcode": subject, "property-id": {"$regex": "structure-cubic-crystal-npt$"},
                "short-name.source-value": "fcc", "species.source-value": "Cu"},
            "project": ["a.si-value"]},
        "count of one runner's documents": {
            "database": "data", "query": {"meta.runner.kimcode": test}, "count": True},
    }


def timed(function, repeat: int) -> tuple[float, object]:
    times, answer = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        answer = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def naive_scan(params: dict):
    """The baseline: every document read and matched in Python (no column, no index)."""
    from queryapi.matcher import compile_filter
    from queryapi.models import QueryDocument

    matches = compile_filter(params["query"])
    found = [d for d in QueryDocument.objects.filter(database="data").values_list(
        "document", flat=True).iterator(chunk_size=5000) if matches(d)]
    return len(found)


def alternatives(connection, params: dict, repeat: int) -> dict:
    """The other designs, measured on the same documents: SQL over the JSON column itself
    (PostgreSQL jsonb containment with a GIN index; SQLite json_extract with an expression
    index), the rest of the filter then matched in Python as the chosen design does."""
    from queryapi.matcher import compile_filter

    matches = compile_filter(params["query"])
    subject = params["query"]["meta.subject.kimcode"]
    answer: dict = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            start = time.perf_counter()
            cursor.execute("CREATE INDEX bench_document_gin ON queryapi_querydocument "
                           "USING gin (document jsonb_path_ops)")
            cursor.execute("ANALYZE queryapi_querydocument")
            built = time.perf_counter() - start
            sql = ("SELECT document FROM queryapi_querydocument WHERE database = 'data' AND latest "
                   "AND document @> %s::jsonb")
            argument = json.dumps({"meta": {"subject": {"kimcode": subject}}})
            name = f"alternative: jsonb @> with a GIN index (built in {built:.0f} s), rest in Python"
        elif connection.vendor == "sqlite":
            start = time.perf_counter()
            cursor.execute("CREATE INDEX bench_document_subject ON queryapi_querydocument "
                           "(json_extract(document, '$.meta.subject.kimcode'))")
            built = time.perf_counter() - start
            sql = ("SELECT document FROM queryapi_querydocument WHERE database = 'data' AND latest "
                   "AND json_extract(document, '$.meta.subject.kimcode') = %s")
            argument = subject
            name = (f"alternative: json_extract expression index (built in {built:.0f} s), "
                    "rest in Python")
        else:
            return answer

        def run():
            cursor.execute(sql, [argument])
            found = []
            for (text,) in cursor.fetchall():
                document = json.loads(text) if isinstance(text, str) else text
                if matches(document):
                    found.append(document["a"]["si-value"])
            return found[:1]

        answer[name] = timed(run, repeat)
    return answer


def measure(backend: str, instances: int, repeat: int) -> dict:
    from django.conf import settings
    from django.db import connection

    from queryapi import api

    settings.QUERY_TIMEOUT = 600
    settings.QUERY_MAX_SCANNED = 10 ** 8
    start = time.perf_counter()
    models = fill(instances)
    fill_seconds = time.perf_counter() - start
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE queryapi_querydocument")
    report = {"backend": backend, "instances": instances, "models": models,
              "fill_seconds": round(fill_seconds, 1), "queries": {}}
    for name, params in queries(models).items():
        seconds, answer = timed(lambda p=params: api.query(dict(p)), repeat)
        report["queries"][name] = {"ms": round(seconds * 1000, 2), "answer": answer}
    first = next(iter(queries(models).values()))
    for name, (seconds, answer) in alternatives(connection, first, repeat).items():
        report["queries"][name] = {"ms": round(seconds * 1000, 2), "answer": answer}
    baseline, matched = timed(lambda: naive_scan(first), 1)
    report["baseline_ms"] = round(baseline * 1000, 1)
    report["baseline_matched"] = matched
    return report


def child(backend: str, instances: int, repeat: int) -> None:
    scratch = scratch_folder(f"bench-query-{backend}-")
    database_url = None
    name = f"bench_query_{os.getpid()}"
    if backend == "postgres":
        from tests.fixtures.pipeline.site import postgres_admin, postgres_url

        postgres_admin(f'CREATE DATABASE "{name}"')
        database_url = postgres_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        setup_django(scratch, database_url=database_url)
        print("REPORT " + json.dumps(measure(backend, instances, repeat)), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if backend == "postgres":
            from tests.fixtures.pipeline.site import drop_postgres_database

            drop_postgres_database(name)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=100000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.instances, args.repeat)
        return
    for backend in args.backends.split(","):
        if backend == "postgres":
            from tests.fixtures.pipeline.site import postgres_unreachable

            reason = postgres_unreachable()
            if reason:
                print(f"postgres: skipped ({reason})")
                continue
        done = subprocess.run([sys.executable, __file__, "--child", backend, "--instances",
                               str(args.instances), "--repeat", str(args.repeat)],
                              capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
        if done.returncode != 0 or not lines:
            sys.exit(f"{backend} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        report = json.loads(lines[-1][len("REPORT "):])
        print(f"== {backend}: {report['instances']:,} instances ({report['models']:,} models), "
              f"filled in {report['fill_seconds']} s")
        typical = None
        for name, result in report["queries"].items():
            typical = typical or result["ms"]
            print(f"  {result['ms']:9.2f} ms  {name}  -> {json.dumps(result['answer'])[:60]}")
        print(f"  {report['baseline_ms']:9.1f} ms  baseline: naive full scan in Python "
              f"({report['baseline_matched']} matched)")
        print(f"  ratio naive/indexed (template query): {report['baseline_ms'] / typical:.0f}x")


if __name__ == "__main__":
    main()
