"""The public pages and the admin, driven in Debian's headless Chromium against a live server.

Screenshots of every page visited are kept under ``PIPELINE_SCREENSHOT_DIR`` (the test
command sets it; otherwise a folder of pytest's tmp tree), one PNG per step.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from repository.models import Model, Status, Test, TestResult, VerificationResult
from tests.factories import AR_MODELS, make_check, make_model, make_test

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The property the fixture runner (tests/fixtures/pipeline/runner.sh.tpl) reports.
RUNNER_PROPERTY = "cohesive-potential-energy-cubic-crystal"


@pytest.fixture
def browser():
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail("Debian's chromium and chromium-driver must be installed (bin/bootstrap does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def screenshots(request, tmp_path_factory):
    """Saves the browser's page as ``<test>-<step>.png`` under the screenshot folder."""
    folder = Path(os.environ.get("PIPELINE_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(driver, step: str) -> Path:
        path = folder / f"{request.node.name}-{step}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot {path}"
        return path
    return shoot


def sign_in(browser, live_server, django_user_model, role: str = "curator"):
    user = django_user_model.objects.create_user(role, password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(role)
    browser.find_element(By.NAME, "password").send_keys("s3cret-pass")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: "/admin/login/" not in d.current_url)
    assert "Site administration" in browser.page_source


def loaded(browser, image) -> bool:
    """Whether an <img> has loaded a picture (an SVG plot served by the site)."""
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return arguments[0].complete", image))
    return browser.execute_script("return arguments[0].naturalWidth", image) > 0


def run_action(browser, live_server, changelist: str, kim_id: str, action: str) -> str:
    browser.get(live_server.url + changelist)
    row = browser.find_element(By.XPATH, f"//tr[.//a[text()='{kim_id}']]")
    row.find_element(By.NAME, "_selected_action").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value(action)
    browser.find_element(By.NAME, "index").click()
    # The click returns before the action's answer has loaded when the action takes a while
    # (an approval queues the model's tests): wait for the admin's messages.
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "ul.messagelist"))
    return browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text.lower()


def test_home_page_lists_counts(browser, live_server, screenshots):
    Test.objects.create(kim_id="LatticeConstantCubicEnergy_fcc_Al__TE_000000000101_000", species=["Al"])
    Model.objects.create(kim_id="EAM_Dynamo_ErcolessiAdams_1994_Al__MO_324507536345_003", species=["Al"])

    browser.get(live_server.url + "/")
    screenshots(browser, "home")

    assert "1 tests, 1 models, 0 test results" in browser.find_element(By.TAG_NAME, "main").text


def test_curator_approves_a_model_after_its_checks_and_reads_it_everywhere(
        browser, live_server, django_user_model, repository_dir, screenshots):
    check = make_check("SpeciesSupportedAsStated", 600, root=repository_dir)
    test = make_test("CohesiveEnergy_fcc_Ar", 514507648222, root=repository_dir)
    pending = make_model(AR_MODELS[0], status=Status.PENDING)
    sign_in(browser, live_server, django_user_model)

    # First approval: the checks have not run; they are queued (and run inline here).
    said = run_action(browser, live_server, "/admin/repository/model/", pending.kim_id, "approve")
    screenshots(browser, "approve-held")
    assert "still pending until their verification checks finish" in said
    assert VerificationResult.objects.filter(model=pending, verification_check=check).exists()
    # Their result landed: now the approval goes through, and the model runs its tests.
    said = run_action(browser, live_server, "/admin/repository/model/", pending.kim_id, "approve")
    screenshots(browser, "approved")
    assert f"approved {pending.kim_id}".lower() in said
    result = TestResult.objects.get(model=pending, test=test)

    browser.get(f"{live_server.url}/id/{pending.kim_id}")
    screenshots(browser, "model-page")
    grades = browser.find_element(By.CSS_SELECTOR, "table.grades").text
    assert check.kim_id in grades
    assert VerificationResult.objects.get(model=pending).kim_id in grades
    assert loaded(browser, browser.find_element(By.CSS_SELECTOR, "section.property img"))

    browser.get(live_server.url + "/browse/results")
    screenshots(browser, "matrix")
    cell = browser.find_element(By.CSS_SELECTOR, f"a.cell.result[href='/id/{result.kim_id}']")
    cell.click()
    screenshots(browser, "result-page")
    assert result.kim_id in browser.find_element(By.TAG_NAME, "h1").text
    assert "angstrom" in browser.find_element(By.CSS_SELECTOR, "table.values").text

    browser.get(f"{live_server.url}/properties/{RUNNER_PROPERTY}")
    screenshots(browser, "property-page")
    assert loaded(browser, browser.find_element(By.CSS_SELECTOR, "img.plot"))


def test_search_by_kim_id_opens_the_item(browser, live_server, screenshots):
    test = make_test("CohesiveEnergy_fcc_Ar", 514507648222)
    browser.get(live_server.url + "/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys(f"TE_{test.number}")
    box.submit()
    screenshots(browser, "search")
    assert browser.current_url.endswith(f"/id/{test.kim_id}")
    assert test.kim_id in browser.find_element(By.TAG_NAME, "h1").text


def test_curator_logs_in_and_finds_a_test(browser, live_server, django_user_model, screenshots):
    Test.objects.create(kim_id="LatticeConstantCubicEnergy_fcc_Cu__TE_000000000102_000",
                        title="Cu fcc lattice constant", species=["Cu"])
    sign_in(browser, live_server, django_user_model)
    browser.get(live_server.url + "/admin/repository/test/?q=Cu")
    screenshots(browser, "admin-search")

    assert "LatticeConstantCubicEnergy_fcc_Cu__TE_000000000102_000" in browser.page_source
