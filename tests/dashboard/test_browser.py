"""The dashboard as a real server (the `make dashboard` command) in headless Debian Chromium:
every page renders its charts without an exception (one screenshot per page in
docs/screenshots/), and a publish that swaps the serving file under the running server is
picked up on the next rerun."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.conftest import PAGES, ROOT, app_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The committed screenshots in docs/screenshots are refreshed on request
# (RETURNLENS_UPDATE_SCREENSHOTS=1); otherwise they go to a temp folder so a test run leaves
# the working tree clean.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("RETURNLENS_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "returnlens-screenshots"
)
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CHART = '[data-testid="stVegaLiteChart"]'
EXCEPTION = '[data-testid="stException"]'
# pages that show at least one chart on the demo shop
CHART_PAGES = {
    "overview",
    "quality",
    "customers",
    "interventions",
    "planning",
    "behaviour",
    "review_queue",
    "data_health",
}

if not CHROMIUM.exists():  # .ci/run installs it; locally: apt-get install -y chromium
    if os.environ.get("RETURNLENS_REQUIRE_BROWSER") == "1":  # set by .ci/run: never skip in CI
        raise RuntimeError("RETURNLENS_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(serving: Path, port: int) -> subprocess.Popen:
    """`make dashboard` runs exactly this command (the Makefile adds only `install`)."""
    env = {**app_env(serving), "RETURNLENS_DASHBOARD_PORT": str(port)}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("streamlit")),
            "run",
            str(ROOT / "dashboard" / "app.py"),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode() == "ok":
                    return proc
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"the dashboard did not start: {proc.stdout.read() if proc.stdout else ''}")


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


@pytest.fixture(scope="module")
def server(serving, tmp_path_factory):
    """A dashboard server on a private copy of the serving file."""
    copy = tmp_path_factory.mktemp("browser") / "serving.duckdb"
    shutil.copy2(serving, copy)
    port = _free_port()
    proc = _start(copy, port)
    yield f"http://127.0.0.1:{port}", copy
    log = _stop(proc)
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(page, url: str, charts: bool = True) -> None:
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    if charts:
        page.wait_for_selector(f"{CHART} svg, {CHART} canvas", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_charts_without_exception(server, browser, name):
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        # the first page is the default one at /; the others have their file name as url path
        _open(page, url + ("/" if name == "overview" else f"/{name}"), name in CHART_PAGES)
        assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "Published " in body and "quality gates" in body
        assert "Traceback" not in body
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(500)  # let Vega finish its transitions before the picture
        _save_small_png(page.screenshot(), SCREENSHOTS / f"{name}.png")
    finally:
        page.close()


def test_a_publish_that_swaps_the_file_is_picked_up_on_the_next_rerun(
    server, browser, pipeline_run
):
    from returnlens.publish import publish

    url, serving = server
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        _open(page, url + "/data_health")
        before = _published(page)
        time.sleep(1.1)  # the banner shows seconds
        # a real publish from the warehouse, swapped in with os.replace while the server runs
        # (the pipeline's own run id, so its gate results go along as in a normal publish)
        result = publish(
            warehouse=pipeline_run.warehouse,
            serving=serving,
            run_id=pipeline_run.result.run_id,
            parquet=False,
        )
        # the next rerun of the same browser session (Streamlit's "r" shortcut), no restart
        page.locator("h1").first.click()
        page.keyboard.press("r")
        deadline = time.monotonic() + 60
        while _published(page, strict=False) in (before, None) and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        page.wait_for_selector(IDLE, timeout=60_000)
        after = _published(page)
        assert after != before
        assert after == result.published_at.strftime("%Y-%m-%d %H:%M:%S")
        assert page.locator(EXCEPTION).count() == 0
        _open(page, url + "/")
        assert page.locator(EXCEPTION).count() == 0
        assert after in _published_text(page)
    finally:
        page.close()


def _save_small_png(png: bytes, path: Path) -> None:
    """A palette PNG (128 colours) keeps the committed screenshots small."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=128).save(path, optimize=True)


def _published_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _published(page, strict: bool = True) -> str | None:
    match = re.search(r"Published (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", _published_text(page))
    if not strict:
        return match.group(1) if match else None
    assert match, _published_text(page)[:500]
    return match.group(1)


def test_make_dashboard_prints_the_url(browser, tmp_path):
    """`make dashboard` itself starts the server on RETURNLENS_DASHBOARD_PORT and prints the URL
    (on a serving path with nothing published yet: it still starts and says to run make run)."""
    port = _free_port()
    env = {
        **os.environ,
        "RETURNLENS_SERVING": str(tmp_path / "serving.duckdb"),
        "RETURNLENS_DASHBOARD_PORT": str(port),
    }
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "dashboard"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        seen = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and f"URL: http://127.0.0.1:{port}" not in seen:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen += line
        assert f"URL: http://127.0.0.1:{port}" in seen, seen
        page = browser.new_page()
        _open(page, f"http://127.0.0.1:{port}/", charts=False)
        assert "make run" in _published_text(page)
        assert page.locator(EXCEPTION).count() == 0
        page.close()
    finally:
        os.killpg(proc.pid, 15)  # make and the streamlit it started (their own group)
        proc.wait(timeout=15)
