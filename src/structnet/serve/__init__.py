"""``structnet serve``: a local web app and HTTP API over :mod:`structnet.analysis`.

Starlette (the ASGI toolkit under FastAPI) served by uvicorn: a few routes need no validation framework, the
framework's test client drives the API in-process, and both are small pure-Python installs. The page
(``static/``: plain HTML, CSS and JavaScript, no CDN, no build step) and the API (docs/serve.md):

``GET /``                          the page: pick or drop a photo, choose tasks, see each task's pictures as it ends
``GET /api/v1/models``             the tasks, their models and headline scores, the server's limits
``POST /api/v1/analyze``           a photo -> the analysis (schema of ``analysis.json``; pictures as ``data:`` URIs)
``POST /api/v1/predict/{task}``    the same for one task (``hypercolumn`` and ``pose3d`` bring ``pose2d``)

A photo is the body of the request (``Content-Type: image/...``) or the ``image`` field of a multipart form
(with an optional ``tasks`` field); ``?tasks=a,b`` chooses tasks, ``?images=0`` leaves the pictures out,
``?stream=1`` answers with one JSON line per task as it ends (``application/x-ndjson``; the page uses it to show
progress) and a last line with the whole analysis.

Safe by default: binds to 127.0.0.1; uploads over ``max_upload_bytes`` get 413 before they are read (a body
without Content-Length gets 411); what is uploaded is decoded as an image (by content, never by name) under the
CLI's pixel limit (415 / 422 otherwise); the uploaded file name is only a label, nothing of a request reaches the
file system; one photo is analysed at a time (the models are loaded once, at start, and shared) and at most
``queue`` requests wait for it: more get 503 with ``Retry-After``; every error is a JSON ``{"error": {"status",
"message"}}`` and the server goes on serving.
"""
from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import UserError

__all__ = ["ServeSettings", "create_app", "run_server", "STATIC_DIR", "API_PREFIX"]

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"
_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass
class ServeSettings:
    """What a server runs and its limits: ``tasks`` (:func:`structnet.analysis.parse_tasks`), ``precision``,
    ``queue`` (requests that may wait for the model; more get 503), ``max_upload_bytes`` (413 above it) and
    ``max_pixels`` (None: the CLI's limit, :func:`structnet.data.io.max_pixels_limit`)."""

    tasks: Any = "all"
    precision: str = "auto"
    queue: int = 32
    max_upload_bytes: int = 20 * 2 ** 20
    max_pixels: Optional[float] = None
    models: Dict[str, str] = field(default_factory=dict)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status, self.message, self.headers = int(status), " ".join(str(message).split()), headers or {}


class _Gate:
    """Admission: at most ``limit`` requests inside (waiting or running); the analysis itself runs one at a time in
    a worker thread."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.inside = 0
        self.lock = threading.Lock()
        self.run_lock: Optional[asyncio.Lock] = None

    def enter(self) -> "_Slot":
        """A slot for one request (HTTPError 503 when all are taken); release it exactly once."""
        with self.lock:
            if self.inside >= self.limit:
                raise HTTPError(503, f"the server is busy ({self.inside} requests waiting or running, limit "
                                     f"{self.limit}); try again shortly", {"Retry-After": "1"})
            self.inside += 1
        return _Slot(self)

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


class _Slot:
    """One request's place in the gate; :meth:`release` is idempotent (a streamed answer releases it when the
    stream ends and again, as a no-op, in the response's background task, which also runs when the client left
    before the stream started)."""

    def __init__(self, gate: _Gate):
        self.gate, self.held = gate, True
        self.lock = threading.Lock()

    def release(self) -> None:
        with self.lock:
            if not self.held:
                return
            self.held = False
        self.gate.leave()


def _error(status: int, message: str, headers: Optional[Dict[str, str]] = None):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"status": int(status), "message": message}}, status_code=int(status),
                        headers=headers)


def _label(name: Optional[str]) -> str:
    """An uploaded file's name as a label: its last path part, odd characters replaced, at most 100 long."""
    base = re.split(r"[\\/]", str(name or ""))[-1]
    return (_NAME.sub("_", base).strip(" .") or "upload")[:100]


def create_app(settings: Optional[ServeSettings] = None, analyzer=None):
    """The ASGI app (Starlette). ``analyzer``: a ready :class:`structnet.analysis.Analyzer` (default: one built from
    ``settings``, its models loaded at start-up)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .. import tasks as registry
    from ..analysis import TASK_ORDER, Analyzer, parse_tasks
    from ..data.io import ImageReadError, decode_image, max_pixels_limit

    st = settings or ServeSettings()
    if analyzer is None:
        analyzer = Analyzer(st.tasks, precision=st.precision, models=st.models)
    gate = _Gate(st.queue)
    pixel_limit, _ = max_pixels_limit(st.max_pixels)

    @asynccontextmanager
    async def lifespan(app):
        await asyncio.get_running_loop().run_in_executor(None, analyzer.load)
        gate.run_lock = asyncio.Lock()
        yield

    async def read_upload(request: Request):
        """(bytes, label, tasks from the form or None) of the photo in ``request``; HTTPError otherwise."""
        length = request.headers.get("content-length")
        if length is None:
            raise HTTPError(411, "send the photo with a Content-Length header")
        try:
            n = int(length)
        except ValueError:
            raise HTTPError(400, f"bad Content-Length {length!r}") from None
        if n > st.max_upload_bytes:
            raise HTTPError(413, f"the upload is {n / 2 ** 20:.1f} MB, over the {st.max_upload_bytes / 2 ** 20:.1f} "
                                 f"MB limit")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            try:
                form = await request.form(max_files=1, max_fields=8)
            except Exception as e:  # noqa: BLE001 -- a malformed form is the client's error
                raise HTTPError(400, f"could not read the form: {e}") from None
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise HTTPError(422, "the form has no file field 'image'")
            data = await upload.read()
            tasks = form.get("tasks")
            await form.close()
            return data, _label(upload.filename), (tasks if isinstance(tasks, str) and tasks.strip() else None)
        if ctype.startswith("image/") or ctype == "application/octet-stream":
            data = await request.body()
            return data, _label(request.query_params.get("name")), None
        raise HTTPError(415, f"send the photo as multipart/form-data (field 'image') or as the body with an "
                             f"image/* Content-Type, not {ctype or 'no Content-Type'}")

    def check_image(data: bytes, label: str) -> None:
        """Refuse what is not an image, by its content (the header is parsed, nothing decoded yet)."""
        from PIL import Image, UnidentifiedImageError

        if not data:
            raise HTTPError(422, "the upload is empty (0 bytes)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data)) as im:
                    w, h = im.size
        except Image.DecompressionBombError:
            w, h = 10 ** 9, 1  # over PIL's own limit: refused just below
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise HTTPError(415, f"{label}: not an image (its content is no image format this server reads)") from None
        if w * h > pixel_limit:
            raise HTTPError(413, f"{label}: {w}x{h} pixels is over the {pixel_limit / 1e6:.0f} MP limit")

    def choose_tasks(request: Request, form_tasks: Optional[str], only: Optional[str] = None) -> List[str]:
        spec = only or request.query_params.get("tasks") or form_tasks
        if spec is None:
            return list(analyzer.tasks)
        try:
            names = parse_tasks(spec)
        except UserError as e:
            raise HTTPError(422, str(e)) from None
        missing = [t for t in names if t not in analyzer.tasks]
        if missing:
            raise HTTPError(422, f"this server runs {', '.join(analyzer.tasks)}, not {missing[0]}")
        return names

    def flag(request: Request, key: str, default: bool) -> bool:
        v = request.query_params.get(key)
        if v is None:
            return default
        if v.lower() in ("1", "true", "yes"):
            return True
        if v.lower() in ("0", "false", "no"):
            return False
        raise HTTPError(422, f"?{key}= takes 1 or 0, got {v!r}")

    def run_analysis(data: bytes, label: str, names: List[str], on_task=None):
        try:
            img = decode_image(data, label, max_pixels=st.max_pixels)
        except ImageReadError as e:
            raise HTTPError(422, str(e)) from None
        return analyzer.analyze(img, name=label, tasks=names, on_task=on_task)

    def document(analysis, images: bool) -> Dict[str, Any]:
        return analysis.to_dict(images=analysis.data_uris() if images else None)

    async def handle(request: Request, only: Optional[str] = None):
        slot = gate.enter()
        try:
            data, label, form_tasks = await read_upload(request)
            names = choose_tasks(request, form_tasks, only)
            images, stream = flag(request, "images", True), flag(request, "stream", False)
            check_image(data, label)
        except BaseException:
            slot.release()
            raise
        if stream:
            return StreamingResponse(_stream(data, label, names, images, slot), media_type="application/x-ndjson",
                                     background=BackgroundTask(slot.release))
        try:
            async with gate.run_lock:
                analysis = await asyncio.get_running_loop().run_in_executor(
                    None, run_analysis, data, label, names)
                doc = await asyncio.get_running_loop().run_in_executor(None, document, analysis, images)
            return JSONResponse(doc)
        finally:
            slot.release()

    async def _stream(data: bytes, label: str, names: List[str], images: bool, slot: "_Slot"):
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def on_task(tr):
            line = {"event": "task", "task": tr.task, **tr.to_dict()}
            loop.call_soon_threadsafe(queue.put_nowait, line)

        def work():
            try:
                analysis = run_analysis(data, label, names, on_task)
                doc = document(analysis, images)
                loop.call_soon_threadsafe(queue.put_nowait, {"event": "done", "analysis": doc})
            except HTTPError as e:
                loop.call_soon_threadsafe(queue.put_nowait, {"event": "error", "error": {"status": e.status,
                                                                                          "message": e.message}})
            except Exception as e:  # noqa: BLE001 -- reported to the client, the server goes on
                loop.call_soon_threadsafe(queue.put_nowait, {"event": "error", "error": {
                    "status": 500, "message": f"{type(e).__name__}: {' '.join(str(e).split())}"}})

        try:
            yield json.dumps({"event": "start", "tasks": names}) + "\n"
            async with gate.run_lock:
                job = loop.run_in_executor(None, work)
                while True:
                    item = await queue.get()
                    yield json.dumps(item) + "\n"
                    if item["event"] in ("done", "error"):
                        break
                await job
        finally:
            slot.release()

    async def analyze_route(request: Request):
        return await handle(request)

    async def predict_route(request: Request):
        task = request.path_params["task"]
        if task not in TASK_ORDER:
            raise HTTPError(404, f"no task {task!r}; tasks: {', '.join(TASK_ORDER)}")
        return await handle(request, only=task)

    async def models_route(request: Request):
        rows = []
        for t in analyzer.tasks:
            model = analyzer.model(t)
            task = registry.get(t)
            headline = task.headline(model.metadata or {}) if model.metadata else ""
            rows.append({"task": t, "summary": task.summary, "model": model.name, "headline": headline})
        return JSONResponse({"tasks": rows, "limits": {"max_upload_bytes": st.max_upload_bytes,
                                                       "max_pixels": pixel_limit, "queue": st.queue}})

    async def index(request: Request):
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def http_error(request: Request, exc: HTTPError):
        return _error(exc.status, exc.message, exc.headers)

    async def starlette_error(request: Request, exc: StarletteHTTPException):
        msg = {404: f"not found: {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        return _error(exc.status_code, msg.get(exc.status_code, str(exc.detail)), getattr(exc, "headers", None))

    async def server_error(request: Request, exc: Exception):
        return _error(500, f"{type(exc).__name__}: {' '.join(str(exc).split())}")

    routes = [Route("/", index, methods=["GET"]),
              Route(f"{API_PREFIX}/models", models_route, methods=["GET"]),
              Route(f"{API_PREFIX}/analyze", analyze_route, methods=["POST"]),
              Route(f"{API_PREFIX}/predict/{{task}}", predict_route, methods=["POST"]),
              Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPError: http_error, StarletteHTTPException: starlette_error,
                                        Exception: server_error})
    app.state.analyzer = analyzer
    app.state.settings = st
    app.state.gate = gate
    return app


def run_server(settings: Optional[ServeSettings] = None, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve :func:`create_app` with uvicorn until interrupted."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a dependency of structnet
        raise UserError("structnet serve needs uvicorn and starlette: pip install uvicorn starlette "
                        "python-multipart") from None
    app = create_app(settings)
    print(f"structnet serve: http://{host}:{port}/ (Ctrl+C stops it)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
