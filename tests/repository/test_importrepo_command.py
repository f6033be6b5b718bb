"""``manage.py importrepo``: exit status, what it prints, the KIM API collections, its log file."""

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from repository.importer import import_repository
from repository.models import Model, ModelDriver
from tests.repository import bad_items
from tests.repository import builders as b
from tests.repository.builders import Text

pytestmark = pytest.mark.django_db


def test_rejection_gives_nonzero_exit_and_names_the_item(source, repository_dir, capsys):
    bad_folder, reason = bad_items.unparsable_edn(source)
    out, err = Text(), Text()

    with pytest.raises(CommandError) as caught:
        call_command("importrepo", str(source), "--no-progress", stdout=out, stderr=err)

    assert caught.value.returncode == 1
    assert f"rejected {bad_folder}" in err.text and reason in err.text
    assert f"{len(b.ALL_ITEMS)} created, 0 updated, 0 unchanged, 1 rejected" in out.text

def test_clean_import_exits_zero_and_prints_summary(source, repository_dir):
    out = Text()
    call_command("importrepo", str(source), "--no-progress", stdout=out)
    assert f"{len(b.ALL_ITEMS)} created, 0 updated, 0 unchanged, 0 rejected" in out.text

def test_missing_repository_folder_is_a_command_error(tmp_path, repository_dir):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("importrepo", str(tmp_path / "nowhere"), "--no-progress")

@pytest.mark.kimapi
def test_kim_collections_are_registered_before_the_folders(source, repository_dir):
    # A repository model driven by a driver only the KIM API has installed: it imports only if
    # the collections are registered first.
    installed_driver = "EAM_Dynamo__MD_120291908751_005"
    driven = "EAM_Dynamo_Test_Cu__MO_000000000032_000"
    b.item_2020(source, driven, species=["Cu"], model_driver=installed_driver, kim_api_version="2.3")
    out = Text()

    call_command("importrepo", str(source), "--kim-collections", "--no-progress", stdout=out)

    assert "KIM API collections: " in out.text and " registered, " in out.text  # a sentence
    driver = Model.objects.get(kim_id=driven).driver
    assert (driver.kim_id, driver.collection) == (installed_driver, "system")
    assert f"{len(b.ALL_ITEMS) + 1} created, 0 updated, 0 unchanged, 0 rejected" in out.text


def test_progress_bar_goes_to_stderr(source, repository_dir, capsys):
    import_repository(source, progress=True)
    assert f"{len(b.ALL_ITEMS)}/{len(b.ALL_ITEMS)}" in capsys.readouterr().err

@pytest.mark.kimapi
def test_kim_collections_with_the_real_kim_api(tmp_path, repository_dir):
    out = Text()
    call_command("importrepo", str(repository_dir), "--kim-collections", "--no-progress", stdout=out)
    assert "KIM API collections: " in out.text and " registered, " in out.text  # a sentence
    assert ModelDriver.objects.filter(collection__gt="").exists()
    assert "0 created, 0 updated, 0 unchanged, 0 rejected" in out.text

def test_command_line_exit_status_and_log_file(tmp_path):
    """The real ``manage.py importrepo`` in its own process, on its own SQLite database."""
    source = b.build_source_repository(tmp_path / "source")
    bad_folder, reason = bad_items.unparsable_json(source)
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(KIM_DIR=str(tmp_path / "kim"), KIM_REPOSITORY_DIR=str(tmp_path / "repository"),
               KIM_LOG_DIR=str(tmp_path / "logs"), SECRET_KEY="not-secret-test-key")
    manage = [sys.executable, str(b.PROJECT_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)

    done = subprocess.run([*manage, "importrepo", str(source)], env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    assert f"rejected {bad_folder}" in done.stderr and reason in done.stderr
    assert "importing" not in done.stderr  # no progress bar when stderr is not a terminal
    assert f"{len(b.ALL_ITEMS)} created, 0 updated, 0 unchanged, 1 rejected" in done.stdout
    assert reason in (tmp_path / "logs" / "pipeline.log").read_text()
    again = subprocess.run([*manage, "importrepo", str(tmp_path / "repository")], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    # In place, the copies hash like their sources: nothing to do.
    assert f"0 created, 0 updated, {len(b.ALL_ITEMS)} unchanged, 0 rejected" in again.stdout
