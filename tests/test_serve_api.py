"""The HTTP API of ``structnet serve`` in-process (Starlette's test client): every endpoint, the schema against
:mod:`structnet.analysis`, and every bad request getting a 4xx JSON error while the server goes on serving."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from structnet.analysis import Analyzer  # noqa: E402
from structnet.serve import ServeSettings, create_app  # noqa: E402

TASKS = "extraction,pose2d,hypercolumn"


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo():
    import skimage.data as data
    from skimage import transform

    img = transform.resize(data.astronaut(), (192, 192), anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(TASKS)


@pytest.fixture(scope="module")
def client(analyzer):
    app = create_app(ServeSettings(tasks=TASKS, max_upload_bytes=2 * 2 ** 20, max_pixels=4_000_000),
                     analyzer=analyzer)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _without_times(doc):
    doc = json.loads(json.dumps(doc))
    doc.pop("seconds", None)
    for t in doc.get("tasks", {}).values():
        t.pop("seconds", None)
        t.pop("images", None)
    return doc


def test_models_lists_the_tasks_and_the_limits(client):
    r = client.get("/api/v1/models")
    assert r.status_code == 200
    doc = r.json()
    assert [t["task"] for t in doc["tasks"]] == TASKS.split(",")
    assert all(t["model"] for t in doc["tasks"])
    assert doc["limits"] == {"max_upload_bytes": 2 * 2 ** 20, "max_pixels": 4_000_000, "queue": 32}


def test_analyze_returns_the_schema_of_analyze_with_pictures(client, analyzer, photo):
    r = client.post("/api/v1/analyze", files={"image": ("astro.png", _png(photo), "image/png")})
    assert r.status_code == 200, r.text
    doc = r.json()
    expected = analyzer.analyze(photo, name="astro.png").to_dict()
    assert _without_times(doc) == _without_times(expected)
    from PIL import Image

    for name, t in doc["tasks"].items():
        assert t["status"] == "ok", (name, t)
        for uri in t["images"].values():
            assert uri.startswith("data:image/png;base64,")
            im = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
            assert im.size == (192, 192)


def test_raw_body_predict_one_task_and_no_pictures(client, photo):
    r = client.post("/api/v1/predict/extraction?images=0&name=x.png", content=_png(photo),
                    headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert list(doc["tasks"]) == ["extraction"] and "images" not in doc["tasks"]["extraction"]
    assert doc["image"]["name"] == "x.png"
    r = client.post("/api/v1/predict/hypercolumn?images=0", content=_png(photo), headers={"Content-Type": "image/png"})
    assert list(r.json()["tasks"]) == ["pose2d", "hypercolumn"]  # the person task brings pose2d


def test_stream_sends_each_task_then_the_whole_analysis(client, photo):
    r = client.post("/api/v1/analyze?stream=1&images=0", files={"image": ("a.png", _png(photo), "image/png")},
                    data={"tasks": "extraction,pose2d"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in r.text.splitlines()]
    assert [e["event"] for e in events] == ["start", "task", "task", "done"]
    assert events[0]["tasks"] == ["extraction", "pose2d"]
    assert [e["task"] for e in events[1:3]] == ["extraction", "pose2d"]
    assert events[-1]["analysis"]["tasks"]["pose2d"]["result"] == events[2]["result"]


def test_the_upload_name_is_only_a_label(client, photo):
    r = client.post("/api/v1/predict/extraction?images=0",
                    files={"image": ("../../etc/passwd\x00.png", _png(photo), "image/png")})
    assert r.status_code == 200
    name = r.json()["image"]["name"]
    assert name.startswith("passwd") and name.endswith(".png") and "/" not in name and "\x00" not in name, name


def _truncated(photo):
    return _png(photo)[:300]


BAD = {
    "empty": (dict(content=b"", headers={"Content-Type": "image/png"}), 422, "empty"),
    "not an image": (dict(content=b"%PDF-1.4 hello", headers={"Content-Type": "image/png"}), 415, "not an image"),
    "a text body": (dict(content=b"hello", headers={"Content-Type": "text/plain"}), 415, "multipart/form-data"),
    "no content type": (dict(content=b"hello"), 415, "multipart/form-data"),
    "no image field": (dict(files={"photo": ("a.png", b"x", "image/png")}), 422, "no file field 'image'"),
    "unknown task": (dict(params={"tasks": "skeleton,nope"}), 422, "unknown task 'nope'"),
    "a task this server does not run": (dict(params={"tasks": "skeleton"}), 422, "not skeleton"),
    "a bad flag": (dict(params={"images": "maybe"}), 422, "?images="),
    "too big": (dict(content=b"\x89PNG" + b"0" * (2 * 2 ** 20), headers={"Content-Type": "image/png"}), 413,
                "over the 2.0 MB limit"),
    "too many pixels": ("huge", 413, "over the 4 MP limit"),
    "truncated image data": ("truncated", 422, "corrupt"),
    "no content length": (dict(content=iter([b"abc"]), headers={"Content-Type": "image/png"}), 411,
                          "Content-Length"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_requests_get_a_4xx_json_error_and_the_server_goes_on(case, client, photo):
    kwargs, status, words = BAD[case]
    if kwargs == "huge":
        kwargs = dict(content=_png(np.zeros((2100, 2100, 3), np.uint8)), headers={"Content-Type": "image/png"})
    elif kwargs == "truncated":
        kwargs = dict(content=_truncated(photo), headers={"Content-Type": "image/png"})
    elif "content" not in kwargs and "files" not in kwargs:
        kwargs = dict(kwargs, content=_png(photo), headers={"Content-Type": "image/png"})
    r = client.post("/api/v1/analyze", **kwargs)
    assert r.status_code == status, (case, r.status_code, r.text)
    err = r.json()["error"]
    assert err["status"] == status and words in err["message"] and "\n" not in err["message"], err
    ok = client.post("/api/v1/predict/extraction?images=0", content=_png(photo), headers={"Content-Type": "image/png"})
    assert ok.status_code == 200


@pytest.mark.parametrize("method,path,status", [("POST", "/api/v1/predict/nosuch", 404), ("GET", "/api/v1/nothing", 404),
                                                ("GET", "/api/v1/analyze", 405), ("GET", "/static/../__init__.py", 404),
                                                ("DELETE", "/api/v1/models", 405)])
def test_wrong_routes_get_json_errors(client, method, path, status, photo):
    r = client.request(method, path, content=_png(photo), headers={"Content-Type": "image/png"})
    assert r.status_code == status
    assert r.json()["error"]["status"] == status


def test_an_error_inside_the_model_is_a_500_and_the_server_goes_on(client, analyzer, photo, monkeypatch):
    def boom(*a, **k):
        raise MemoryError("out of memory")

    monkeypatch.setattr(analyzer, "analyze", boom)
    r = client.post("/api/v1/analyze", content=_png(photo), headers={"Content-Type": "image/png"})
    assert r.status_code == 500 and "MemoryError" in r.json()["error"]["message"]
    monkeypatch.undo()
    assert client.post("/api/v1/predict/extraction?images=0", content=_png(photo),
                       headers={"Content-Type": "image/png"}).status_code == 200


def test_the_page_and_its_files_are_served(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for ref in ("/static/app.js", "/static/app.css"):
        assert ref in r.text
        assert client.get(ref).status_code == 200
    assert "http://" not in r.text and "https://" not in r.text  # no CDN
    js = client.get("/static/app.js").text
    assert "/api/v1/analyze?stream=1" in js and "https://" not in js


def test_every_request_gives_its_queue_slot_back(client, photo):
    """After good, bad and streamed requests, nothing is left inside the gate (no slot leaks)."""
    gate = client.app.state.gate
    client.post("/api/v1/predict/extraction?images=0", content=_png(photo), headers={"Content-Type": "image/png"})
    client.post("/api/v1/analyze", content=b"junk", headers={"Content-Type": "image/png"})
    client.post("/api/v1/analyze?stream=1&images=0&tasks=extraction", content=_png(photo),
                headers={"Content-Type": "image/png"})
    assert gate.inside == 0


def test_a_slot_is_released_once():
    from structnet.serve import _Gate

    g = _Gate(1)
    slot = g.enter()
    with pytest.raises(Exception, match="busy"):
        g.enter()
    slot.release()
    slot.release()  # the stream's end and the response's background task both call it
    assert g.inside == 0
    g.enter().release()
