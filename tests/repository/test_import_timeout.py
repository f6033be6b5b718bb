"""A test's own timeout must fit inside the cluster's task timeout (JOB_TIMEOUT less a margin)."""

import pytest

from repository.importer import import_repository
from repository.models import Test, VerificationCheck
from tests.repository import builders as b

pytestmark = pytest.mark.django_db


def test_timeout_beyond_what_the_cluster_allows_is_refused_naming_both_numbers(source, repository_dir,
                                                                                settings):
    settings.JOB_TIMEOUT = 200
    settings.PIPELINE_JOB_TIMEOUT_MARGIN = 60
    too_long = b.item_2020(source, "Slow__TE_000000000091_000", runner=True, template=True, timeout=141)
    fits = b.item_2020(source, "Fits__TE_000000000092_000", runner=True, template=True, timeout=140)
    too_long_2012 = b.item_2012(source, "Slow2012__TE_000000000093_000", pipeline_in="@MODELNAME\n",
                                pipeline_out="", timeout=500)
    too_long_check = b.item_2020(source, "SlowCheck__VC_000000000094_000", runner=True, template=True,
                                 timeout=1000)

    report = import_repository(source)

    rejected = dict(report.rejected)
    assert set(rejected) == {too_long, too_long_2012, too_long_check}
    assert "timeout 141 s is more than the cluster allows: JOB_TIMEOUT is 200 s" in rejected[too_long]
    assert "timeout 500 s" in rejected[too_long_2012] and "200 s" in rejected[too_long_2012]
    assert "timeout 1000 s" in rejected[too_long_check]
    assert Test.objects.get(kim_id=fits.name).timeout == 140
    assert not VerificationCheck.objects.filter(kim_id=too_long_check.name).exists()


def test_the_margin_setting_is_honoured(source, repository_dir, settings):
    settings.JOB_TIMEOUT, settings.PIPELINE_JOB_TIMEOUT_MARGIN = 200, 25
    over = b.item_2020(source, "Slow__TE_000000000091_000", runner=True, template=True, timeout=176)
    b.item_2020(source, "Fits__TE_000000000092_000", runner=True, template=True, timeout=175)

    report = import_repository(source)

    assert [folder for folder, _ in report.rejected] == [over]
    assert "less a margin of 25 s leaves 175 s" in report.rejected[0][1]


def test_the_margin_has_one_default_the_settings_own(settings):
    """No second default in the importer: without the setting it fails loudly, never guesses 60."""
    from repository.importer import checks

    del settings.PIPELINE_JOB_TIMEOUT_MARGIN
    with pytest.raises(AttributeError):
        checks.allowed_timeout()
