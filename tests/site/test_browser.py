"""The public page and the admin, driven in Debian's headless Chromium."""

import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from repository.models import Model, Test

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail("Debian's chromium and chromium-driver must be installed (bin/bootstrap does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_home_page_lists_counts(browser, live_server):
    Test.objects.create(kim_id="LatticeConstantCubicEnergy_fcc_Al__TE_000000000101_000", species=["Al"])
    Model.objects.create(kim_id="EAM_Dynamo_ErcolessiAdams_1994_Al__MO_324507536345_003", species=["Al"])

    browser.get(live_server.url + "/")

    assert "1 tests, 1 models, 0 test results" in browser.find_element(By.TAG_NAME, "main").text


def test_curator_logs_in_and_finds_a_test(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("curator", "curator@example.org", "s3cret-pass")
    Test.objects.create(kim_id="LatticeConstantCubicEnergy_fcc_Cu__TE_000000000102_000",
                        title="Cu fcc lattice constant", species=["Cu"])

    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("curator")
    browser.find_element(By.NAME, "password").send_keys("s3cret-pass")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.get(live_server.url + "/admin/repository/test/?q=Cu")

    assert "LatticeConstantCubicEnergy_fcc_Cu__TE_000000000102_000" in browser.page_source
