"""``structnet serve`` as a user meets it: a real server process on 127.0.0.1, the page in headless Chromium
(Debian's ``chromium`` + ``chromium-driver``, driven by Selenium; ``.ci/run`` installs them), a load test, and a
full queue answering 503 while the server keeps serving.

Set ``STRUCTNET_SCREENSHOT=path.png`` to keep the browser's screenshot of the page with a result (docs/serve.png
is made this way)."""
from __future__ import annotations

import io
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


class Server:
    def __init__(self, *args: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "structnet.cli", "serve", "--port", str(self.port),
                                      "--threads", "1", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"structnet serve ended: {self.proc.stdout.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/models", timeout=2) as r:
                    self.models = json.loads(r.read())
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("structnet serve did not answer within 180 s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory):
    import skimage.data as data
    from skimage import transform

    img = transform.resize(data.astronaut(), (320, 320), anti_aliasing=True, preserve_range=True)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    path.write_bytes(_png(img))
    return path


def _browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no Chromium / ChromeDriver here (Debian packages chromium and chromium-driver; .ci/run installs "
                    "them as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,2000"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def _same(a, b, path=""):
    """JSON values equal, floats within a tolerance (the server runs on 1 thread, this process on 2)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, sorted(set(a) ^ set(b or {})))
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(float(a), float(b), rel_tol=1e-3, abs_tol=0.05), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _strip(doc):
    doc = json.loads(json.dumps(doc))
    doc.pop("seconds", None)
    for t in doc["tasks"].values():
        t.pop("seconds", None)
        t.pop("images", None)
    return doc


def test_the_page_in_a_real_browser(server, photo_file):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from structnet.analysis import analyze

    driver = _browser()
    try:
        driver.get(server.url + "/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "input[name=task]")) == 5)
        driver.find_element(By.ID, "file").send_keys(str(photo_file))
        wait.until(lambda d: d.find_element(By.ID, "run").is_enabled())
        driver.find_element(By.ID, "run").click()
        WebDriverWait(driver, 300).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
                                         in ("done", "error"))
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done", \
            driver.find_element(By.ID, "error").text
        assert "5 of 5 tasks done" in driver.find_element(By.ID, "status").text
        overlays = driver.find_elements(By.CSS_SELECTOR, "img.overlay")
        drawn = driver.execute_script("return Array.from(document.querySelectorAll('img.overlay'))"
                                      ".map(i => [i.dataset.task, i.complete && i.naturalWidth > 0])")
        tasks_drawn = {t for t, ok in drawn if ok}
        assert len(overlays) >= 5 and {"skeleton", "extraction", "pose2d", "hypercolumn"} <= tasks_drawn, drawn
        assert "upper body only" in driver.find_element(By.ID, "task-pose3d").text
        href = driver.find_element(By.ID, "download-json").get_attribute("href")
        assert href.startswith("blob:")
        text = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                           "fetch(arguments[0]).then(r => r.text()).then(done);", href)
        downloaded = json.loads(text)
        if os.environ.get("STRUCTNET_SCREENSHOT"):
            driver.save_screenshot(os.environ["STRUCTNET_SCREENSHOT"])
    finally:
        driver.quit()
    expected = analyze(str(photo_file), name=photo_file.name).to_dict()
    _same(_strip(downloaded), _strip(expected))


def test_load_16_clients_nothing_lost_memory_bounded(server, tmp_path):
    from structnet.serve.loadtest import run_load

    import skimage.data as data

    body = _png(np.ascontiguousarray(data.astronaut()[::4, ::4]))  # 128 x 128
    url = server.url + "/api/v1/predict/extraction?images=0"
    run_load(url, body, clients=2, requests=2)  # warm-up
    res = run_load(url, body, clients=16, requests=10, pid=server.proc.pid)
    assert res["lost"] == 0 and res["status"] == {"200": 160}, res
    assert res["rss_mb"]["after"] - res["rss_mb"]["before"] < 300, res["rss_mb"]
    with urllib.request.urlopen(server.url + "/api/v1/models", timeout=10) as r:  # still serving
        assert r.status == 200


def test_a_full_queue_answers_503_and_the_server_goes_on():
    from structnet.serve.loadtest import run_load

    import skimage.data as data

    s = Server("--queue", "2", "--tasks", "extraction")
    try:
        body = _png(np.ascontiguousarray(data.astronaut()[::2, ::2]))
        res = run_load(s.url + "/api/v1/analyze?images=0", body, clients=8, requests=3)
        assert res["lost"] == 0 and set(res["status"]) <= {"200", "503"}, res
        assert res["status"].get("503", 0) > 0 and res["status"].get("200", 0) > 0, res
        req = urllib.request.Request(s.url + "/api/v1/analyze?images=0", data=body, method="POST",
                                     headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 200 and json.loads(r.read())["tasks"]["extraction"]["status"] == "ok"
    finally:
        s.stop()
