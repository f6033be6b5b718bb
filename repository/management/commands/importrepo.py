"""``manage.py importrepo [PATH]``: import a repository folder's items (see repository.importer)."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository import kimapi, kimcodes, storage
from repository.cli import add_json_flag, write_json
from repository.errors import InvalidKIMID, PipelineImportError
from repository.importer import import_repository
from repository.importer.outcome_folders import reconcile_outcome_folders
from repository.models import Model, ModelDriver


def collections_sentence(counts: dict) -> str:
    """What registering the KIM API's installed items did, as a sentence."""
    found = counts["model-drivers"] + counts["portable-models"] + counts["simulator-models"]
    return (f"KIM API collections: {found} items installed ({counts['portable-models']} portable "
            f"models, {counts['simulator-models']} simulator models, {counts['model-drivers']} "
            f"model drivers): {counts['created']} registered, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged; {counts['skipped']} skipped (not KIM IDs, or "
            f"second names of one item); {counts['uninstalled']} no longer installed.")


def skipped_installed() -> list[tuple[str, str]]:
    """The installed KIM API items that have no row of their own, each with why (``-v 2``)."""
    registered = set(Model.objects.values_list("kim_id", flat=True)) | \
        set(ModelDriver.objects.values_list("kim_id", flat=True))
    skipped = []
    for item in kimapi.installed_items():
        if item.name in registered:
            continue
        try:
            code = kimcodes.parse_kim_code(item.name, require_version=True, require_name=True)
        except InvalidKIMID:
            skipped.append((item.name, "its name is not a KIM ID (Name__LL_DDDDDDDDDDDD_VVV)"))
            continue
        skipped.append((item.name, f"another name of {code.leader}_{code.number}_"
                                   f"{code.version:03d}, which is registered once"))
    return sorted(skipped)


class Command(BaseCommand):
    help = ("Import the item folders (te td mo md sm vc rd pr) of a KIM repository, 2012 or 2020 "
            "format, into the database; copies them into KIM_REPOSITORY_DIR when PATH is elsewhere.")

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", type=Path,
                            help="Repository folder (default: KIM_REPOSITORY_DIR).")
        parser.add_argument("--pending", action="store_true",
                            help="Mark imported models pending (they run only the verification checks) "
                                 "(default: approved).")
        parser.add_argument("--no-progress", action="store_true",
                            help="No progress bar (default: a bar when stderr is a terminal).")
        parser.add_argument("--kim-collections", action="store_true",
                            help="Also register the items installed in the KIM API collections "
                                 "(default: only the folders).")
        add_json_flag(parser)

    def handle(self, *args, path, pending, no_progress, kim_collections, **options):
        source_root = path or storage.repository_root()
        try:
            report = import_repository(
                source_root, pending_models=pending, kim_collections=kim_collections,
                progress=not no_progress and sys.stderr.isatty(),
            )
        except PipelineImportError as exc:
            raise CommandError(str(exc)) from exc
        except ImportError as exc:
            # Only --kim-collections imports anything here: repository.installed is missing or broken.
            raise CommandError(f"--kim-collections needs repository.installed: {exc}") from exc
        outcomes = reconcile_outcome_folders()
        if options["json"]:
            write_json(self.stdout, {
                "source": str(source_root), "created": report.created, "updated": report.updated,
                "unchanged": report.unchanged, "installed": report.installed,
                "rejected": [{"path": str(f), "reason": r} for f, r in report.rejected],
                "warnings": [{"kim_id": k, "message": w} for k, w in report.warnings],
                "recreated": outcomes.recreated,
                "without_folder": [k for k, _ in outcomes.without_folder]})
            if report.rejected:
                raise CommandError(f"{len(report.rejected)} item(s) rejected", returncode=1)
            return
        if kim_collections:
            self.stdout.write(collections_sentence(report.installed))
            for name, why in skipped_installed() if options["verbosity"] > 1 else ():
                self.stdout.write(f"  skipped {name}: {why}")
        for kim_id, warning in report.warnings:
            self.stderr.write(f"warning: {kim_id}: {warning}")
        for folder, reason in report.rejected:
            self.stderr.write(f"rejected {folder}: {reason}")
        self.stdout.write(f"importrepo {source_root}: {report.summary()}")
        if outcomes.recreated:
            self.stdout.write(f"recreated the rows of {len(outcomes.recreated)} outcome folders "
                              f"that had none: {', '.join(outcomes.recreated)}")
        for kim_id, folder in outcomes.without_folder:
            self.stderr.write(f"{kim_id}: its folder {folder} is gone (the row is kept; "
                              "delete it in the admin if the run is to be forgotten)")
        for folder, reason in outcomes.unreadable:
            self.stderr.write(f"outcome folder {folder} has no row and cannot get one: {reason}")
        if report.rejected:
            raise CommandError(f"{len(report.rejected)} item(s) rejected", returncode=1)
