"""One photo in, every structure out: ``structnet analyze`` and :func:`analyze`.

:class:`Analyzer` runs the tasks of the registry (:mod:`structnet.tasks`) on one photo, each with its default
bundled model (or a model the caller names) and its ``predict`` defaults, through the same slots ``structnet
predict`` uses (``predictor``, ``write``) plus ``to_json`` and ``preview_suffixes``. It sits above the tasks: no
task imports it, and it imports no task module (only the registry and the hub).

Order and the person decision (``PERSON_RULE``):

1. ``skeleton``: object skeletons and their thickness on the whole photo;
2. ``extraction``: the salient object's box and mask;
3. ``pose2d``: one person's joints in the window of the person-box model (``predict pose2d``'s default). A person
   is *found* when the mean score of its :data:`PERSON_TOP_JOINTS` best joints reaches :data:`PERSON_MIN_SCORE`
   (measured rates there). Otherwise the pose result is still reported, the person-only tasks are skipped with the
   reason;
4. ``hypercolumn``: the person's parts inside the person box (the person-box model's box; without one, the
   visible joints' box padded by :data:`PERSON_BOX_PADDING`);
5. ``pose3d``: the 3D pose lifted from the 2D joints (its own ``--min-leg-joints`` refuses upper-body photos:
   reported as skipped, with its one-line reason).

One person per photo (the person-box model's). A task that refuses the photo (a UserError: no person, upper
body only) is ``skipped`` with its one-line reason; any other error is ``failed`` with its one-line reason. The
other tasks go on either way.

The result, :class:`Analysis`, is what ``analysis.json`` holds (:meth:`Analysis.to_dict`, schema
:data:`SCHEMA` version :data:`SCHEMA_VERSION`, documented in docs/serve.md) and what the web API returns
(:mod:`structnet.serve`); :meth:`Analysis.save` writes ``analysis.json``, every task's files and ``report.html``
(:mod:`structnet.report`).
"""
from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from .errors import UserError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "TASK_ORDER", "PERSON_TASKS", "PERSON_MIN_SCORE", "PERSON_TOP_JOINTS", "PERSON_RULE",
           "TaskResult", "Person", "Analysis", "Analyzer", "analyze", "analyze_files", "parse_tasks"]

SCHEMA = "structnet.analysis"
SCHEMA_VERSION = 1
#: The tasks ``analyze`` runs, in this order (the person-only ones after ``pose2d``).
TASK_ORDER = ("skeleton", "extraction", "pose2d", "hypercolumn", "pose3d")
#: Tasks that run only where ``pose2d`` found a person.
PERSON_TASKS = ("hypercolumn", "pose3d")
#: The person rule: the mean of the ``pose2d`` model's :data:`PERSON_TOP_JOINTS` best joint scores (heat-map peaks)
#: must reach this. Chosen on 80 photos each of LSPET val, PASCAL-Person-Part train and Weizmann-horse train
#: (``benchmarks/analyze_person_rule.py``, results/analyze_person_rule.json): found in 97.5 % of the LSPET persons,
#: 61 % of the PASCAL-Person-Part photos (small and cut-off people) and 89 % of the horse photos: the pose model
#: does not tell people from four-legged animals. On the demo photos: astronaut and cameraman found; cat, coffee
#: and rocket not; the horse silhouette found.
PERSON_MIN_SCORE = 0.28
PERSON_TOP_JOINTS = 6
#: The padding of the visible joints' box (fraction of its longer side, each way) when there is no person box.
PERSON_BOX_PADDING = 0.15
PERSON_RULE = (f"a person is found when the mean score of the 2D pose model's {PERSON_TOP_JOINTS} best joints, in "
               f"the person-box model's window, is at least {PERSON_MIN_SCORE}")


@dataclass
class TaskResult:
    """One task's part of an :class:`Analysis`.

    ``status``: ``"ok"``, ``"skipped"`` (the task does not apply to this photo: ``reason`` says why) or
    ``"failed"`` (``reason``: the one-line error). ``model``: the model's name; ``settings``: the predict options
    it ran with; ``seconds``: its wall time; ``result``: the task's JSON (:meth:`structnet.tasks.Task.to_json`);
    ``summary``: the CLI's one line about it. ``raw`` is the predictor's own result (arrays; not serialised)."""

    task: str
    status: str
    model: Optional[str] = None
    settings: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    result: Optional[Dict[str, Any]] = None
    summary: str = ""
    reason: Optional[str] = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"status": self.status, "model": self.model, "settings": self.settings,
                               "seconds": round(float(self.seconds), 3)}
        if self.status == "ok":
            out["summary"] = self.summary
            out["result"] = self.result
        else:
            out["reason"] = self.reason
        return out


@dataclass
class Person:
    """The person decision: ``found``, ``score`` (the mean of the best joint scores the rule reads),
    ``visible_joints`` (of ``joints``: flagged visible by pose2d), ``box`` (x1, y1, x2, y2 pixels: the box the
    person-only tasks used, None when none) and ``rule`` (:data:`PERSON_RULE`)."""

    found: bool
    score: float = 0.0
    visible_joints: int = 0
    joints: int = 0
    box: Optional[List[float]] = None
    rule: str = PERSON_RULE

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Analysis:
    """Every structure of one photo: ``name``, ``width``, ``height``, ``person`` (None when pose2d did not run) and
    ``tasks`` ({task name: :class:`TaskResult`} in :data:`TASK_ORDER`). ``image`` is the RGB uint8 photo (not
    serialised)."""

    name: str
    width: int
    height: int
    tasks: Dict[str, TaskResult]
    person: Optional[Person] = None
    seconds: float = 0.0
    image: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    _previews: Optional[Dict[str, Dict[str, bytes]]] = field(default=None, repr=False, compare=False)

    def __getitem__(self, task: str) -> TaskResult:
        return self.tasks[task]

    def to_dict(self, images: Optional[Mapping[str, Mapping[str, str]]] = None) -> Dict[str, Any]:
        """The JSON document (schema :data:`SCHEMA`, version :data:`SCHEMA_VERSION`). ``images``: {task: {file
        suffix: URI}} of each task's previews (file names in ``analysis.json``, ``data:`` URIs from the web API);
        None leaves ``images`` out."""
        from . import __version__

        tasks = {}
        for name, tr in self.tasks.items():
            d = tr.to_dict()
            if images is not None and tr.ok:
                d["images"] = dict(images.get(name, {}))
            tasks[name] = d
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "structnet": __version__,
                "image": {"name": self.name, "width": int(self.width), "height": int(self.height)},
                "person": None if self.person is None else self.person.to_dict(),
                "seconds": round(float(self.seconds), 3), "tasks": tasks}

    def previews(self) -> Dict[str, Dict[str, bytes]]:
        """{task: {file suffix: PNG bytes}}: the pictures each successful task's writer makes
        (``preview_suffixes``), written once into a temporary folder and kept."""
        if self._previews is None:
            with tempfile.TemporaryDirectory(prefix="structnet-analyze-") as tmp:
                files = self._write_tasks(Path(tmp), "photo")
                self._previews = {t: {s: Path(p).read_bytes() for s, p in fs.items()} for t, fs in files.items()}
        return self._previews

    def data_uris(self) -> Dict[str, Dict[str, str]]:
        """{task: {file suffix: ``data:image/png;base64,...``}} of :meth:`previews`."""
        return {t: {s: "data:image/png;base64," + base64.b64encode(b).decode("ascii") for s, b in fs.items()}
                for t, fs in self.previews().items()}

    def _write_tasks(self, out_dir: Path, stem: str) -> Dict[str, Dict[str, Path]]:
        """Every successful task's files (its ``write``) into ``out_dir`` as ``<stem>_<task>...``; returns {task:
        {preview suffix: path}}."""
        from . import tasks as registry

        if self.image is None:
            raise UserError("this analysis has no image (it was read from JSON): its files cannot be written")
        previews: Dict[str, Dict[str, Path]] = {}
        for name, tr in self.tasks.items():
            if not tr.ok:
                continue
            task = registry.get(name)
            written = [Path(p) for p in task.write(tr.raw, self.image, out_dir, stem)]
            by_name = {p.name: p for p in written}
            previews[name] = {s: by_name[f"{stem}{s}"] for s in task.preview_suffixes if f"{stem}{s}" in by_name}
        return previews

    def save(self, out_dir: Union[str, Path], stem: Optional[str] = None) -> Path:
        """Write ``analysis.json``, every task's files (``<stem>_<task>...``, as ``structnet predict`` names them)
        and ``report.html`` (self-contained: pictures embedded) into ``out_dir`` (created); returns the JSON's path.
        ``stem``: the file-name stem (default: the photo's name)."""
        from .data.io import write_json
        from .report import write_report

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = stem or _plain_stem(self.name)
        previews = self._write_tasks(out, stem)
        self._previews = {t: {s: p.read_bytes() for s, p in fs.items()} for t, fs in previews.items()}
        doc = self.to_dict(images={t: {s: p.name for s, p in fs.items()} for t, fs in previews.items()})
        path = write_json(out / "analysis.json", doc)
        write_report(out / "report.html", self)
        return path


def _plain_stem(name: str) -> str:
    stem = Path(str(name)).stem or "photo"
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip(".")
    return keep or "photo"


def _json_value(v: Any) -> Any:
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def _settings(options) -> Dict[str, Any]:
    if options is None or not dataclasses.is_dataclass(options):
        return {}
    return {f.name: _json_value(getattr(options, f.name)) for f in dataclasses.fields(options)}


def _one_line(e: BaseException) -> str:
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return " ".join(msg.split()) or type(e).__name__


def parse_tasks(spec: Union[None, str, Sequence[str]]) -> List[str]:
    """The tasks of ``--tasks`` (a comma list or a sequence; None or ``all``: :data:`TASK_ORDER`), in
    :data:`TASK_ORDER`; ``pose3d`` and ``hypercolumn`` bring ``pose2d`` (they need its person). UserError naming an
    unknown name."""
    if spec is None:
        return list(TASK_ORDER)
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if str(s).strip()]
    if not names or names == ["all"]:
        return list(TASK_ORDER)
    bad = [n for n in names if n not in TASK_ORDER]
    if bad:
        raise UserError(f"unknown task {bad[0]!r} for analyze; tasks: {', '.join(TASK_ORDER)} (or all)")
    chosen = set(names)
    if chosen & set(PERSON_TASKS):
        chosen.add("pose2d")
    return [t for t in TASK_ORDER if t in chosen]


class Analyzer:
    """Loads each task's model once and analyses photos with them (:meth:`analyze`); thread-safe (one photo at a
    time: the models share the CPU's threads).

    ``tasks``: which to run (:func:`parse_tasks`; default all); ``models``: {task: bundled name or weights file}
    instead of a task's default model; ``options``: {task: predict options instance} instead of its defaults;
    ``precision``: the predict precision of every task without its own options; ``backend``: as ``predict
    --backend`` (default ``auto``: ONNX Runtime where the task exports its network, as ``predict`` runs it). Models
    load lazily, on first use, unless :meth:`load` is called."""

    def __init__(self, tasks: Union[None, str, Sequence[str]] = None, *, models: Optional[Mapping[str, str]] = None,
                 options: Optional[Mapping[str, Any]] = None, precision: str = "auto", backend: str = "auto"):
        self.tasks = parse_tasks(tasks)
        self.models = dict(models or {})
        bad = [t for t in list(self.models) + list(options or {}) if t not in TASK_ORDER]
        if bad:
            raise UserError(f"unknown task {bad[0]!r}; tasks: {', '.join(TASK_ORDER)}")
        self.precision = precision
        self.backend = backend
        self._options = dict(options or {})
        self._loaded: Dict[str, Any] = {}
        self._predictors: Dict[str, Callable] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------------- models
    def options_for(self, name: str):
        """The predict options ``name`` runs with (the caller's, else the task's defaults at ``precision``)."""
        from . import tasks as registry

        if name in self._options:
            return self._options[name]
        task = registry.get(name)
        opts = task.predict_options() if task.predict_options is not None else None
        if opts is not None and hasattr(opts, "precision"):
            opts = dataclasses.replace(opts, precision=self.precision)
        self._options[name] = opts
        return opts

    def model(self, name: str):
        """The loaded model of task ``name`` (loaded on first call)."""
        from . import hub
        from . import tasks as registry

        with self._lock:
            if name not in self._loaded:
                task = registry.get(name)
                choice = self.models.get(name) or task.default_model_for(self.options_for(name))
                self._loaded[name] = hub.load(choice, task=name, backend=self.backend, precision=self.precision)
            return self._loaded[name]

    def load(self) -> "Analyzer":
        """Load every model and build the predictors now (a server does this before it serves)."""
        for name in self.tasks:
            self._predictor(name)
        return self

    def model_names(self) -> Dict[str, str]:
        """{task: model name} of the tasks this analyzer runs (loads them)."""
        return {t: self.model(t).name for t in self.tasks}

    def _predictor(self, name: str, options=None) -> Callable:
        from . import tasks as registry

        if options is not None:  # per-photo options (the person box): a fresh predictor, not cached
            return registry.get(name).predictor(self.model(name), options)
        with self._lock:
            if name not in self._predictors:
                self._predictors[name] = registry.get(name).predictor(self.model(name), self.options_for(name))
            return self._predictors[name]

    # ------------------------------------------------------------------------------------------ analyse
    def analyze(self, image: Union[np.ndarray, str, Path], name: Optional[str] = None,
                tasks: Union[None, str, Sequence[str]] = None,
                on_task: Optional[Callable[[TaskResult], None]] = None) -> Analysis:
        """Analyse one photo (a uint8 ``(H, W, 3)`` RGB array, grey ``(H, W)`` or RGBA ``(H, W, 4)`` taken as RGB, or
        an image file read as ``predict`` reads it);
        ``name``: what the analysis calls it (default: the file name, or ``image``); ``tasks``: a subset of this
        analyzer's tasks; ``on_task``: called with each :class:`TaskResult` as soon as it is done (progress)."""
        from .data.io import read_image

        if isinstance(image, (str, Path)):
            name = name or Path(image).name
            image = read_image(image)
        img = np.asarray(image)
        if img.dtype == np.uint8 and img.ndim == 2:  # grey
            img = np.repeat(img[..., None], 3, axis=2)
        elif img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 4:  # RGBA: the colour channels
            img = np.ascontiguousarray(img[..., :3])
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
            raise UserError(f"analyze needs an RGB uint8 image (H, W, 3), got {img.dtype} {img.shape}")
        wanted = self.tasks if tasks is None else parse_tasks(tasks)
        missing = [t for t in wanted if t not in self.tasks]
        if missing:
            raise UserError(f"this analyzer runs {', '.join(self.tasks)}, not {missing[0]}")
        t_start = time.perf_counter()
        results: Dict[str, TaskResult] = {}
        person: Optional[Person] = None
        with self._lock:
            for tname in wanted:
                if tname in PERSON_TASKS and (person is None or not person.found):
                    why = ("no person found: pose2d did not run" if person is None else
                           f"no person found (best {PERSON_TOP_JOINTS} joint scores average {person.score:.2f}, "
                           f"{PERSON_MIN_SCORE} needed)")
                    tr = TaskResult(tname, "skipped", reason=why)
                else:
                    tr = self._run(tname, img, person)
                    if tname == "pose2d":
                        person = _person_of(tr, img.shape)
                results[tname] = tr
                if on_task is not None:
                    on_task(tr)
        return Analysis(name=str(name or "image"), width=int(img.shape[1]), height=int(img.shape[0]),
                        tasks=results, person=person, seconds=time.perf_counter() - t_start, image=img)

    def _run(self, tname: str, img: np.ndarray, person: Optional[Person]) -> TaskResult:
        from . import tasks as registry

        task = registry.get(tname)
        t0 = time.perf_counter()
        tr = TaskResult(tname, "failed")
        try:
            model = self.model(tname)
            opts = self.options_for(tname)
            tr.model = model.name
            if tname == "hypercolumn" and person is not None and person.box is not None and hasattr(opts, "box"):
                opts = dataclasses.replace(opts, box=tuple(person.box))
                fn = self._predictor(tname, opts)
            else:
                fn = self._predictor(tname)
            tr.settings = _settings(opts)
            raw = fn(img)
            tr.result = task.to_json(raw, img)
            tr.summary = task.describe(raw)
            tr.raw = raw
            tr.status = "ok"
        except UserError as e:
            tr.status, tr.reason = "skipped", _one_line(e)
        except Exception as e:  # noqa: BLE001 -- one task's failure does not end the analysis
            tr.status, tr.reason = "failed", f"{type(e).__name__}: {_one_line(e)}"
        tr.seconds = time.perf_counter() - t0
        return tr


def _person_of(tr: TaskResult, shape) -> Person:
    """The person decision from the pose2d result (:data:`PERSON_RULE`)."""
    if not tr.ok:
        return Person(found=False)
    joints = tr.result.get("joints", [])
    vis = [j for j in joints if j.get("visible", (j.get("score") or 0.0) > 0.5)]
    scores = sorted(float(j.get("score") or 0.0) for j in joints)
    score = float(np.mean(scores[-PERSON_TOP_JOINTS:])) if scores else 0.0
    found = score >= PERSON_MIN_SCORE
    box = tr.result.get("person_box")
    h, w = shape[:2]
    if box is None or any(v is None for v in box):
        pts = np.array([[j["x"], j["y"]] for j in vis if j.get("x") is not None and j.get("y") is not None])
        if len(pts) >= 2:
            (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
            pad = PERSON_BOX_PADDING * max(x2 - x1, y2 - y1, 1.0)
            box = [x1 - pad, y1 - pad, x2 + pad, y2 + pad]
        else:
            box = None
    if box is not None:
        box = [round(float(np.clip(box[0], 0, w - 1)), 2), round(float(np.clip(box[1], 0, h - 1)), 2),
               round(float(np.clip(box[2], 1, w)), 2), round(float(np.clip(box[3], 1, h)), 2)]
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            box = None
    return Person(found=bool(found and box is not None), score=round(score, 4), visible_joints=len(vis),
                  joints=len(joints), box=box)


_DEFAULT: Optional[Analyzer] = None
_DEFAULT_LOCK = threading.Lock()


def analyze(image: Union[np.ndarray, str, Path], tasks: Union[None, str, Sequence[str]] = None,
            name: Optional[str] = None) -> Analysis:
    """Every structure of one photo with the default models (loaded once per process and kept):

    >>> import structnet
    >>> a = structnet.analyze("photo.jpg")                     # doctest: +SKIP
    >>> a.person.found, a["extraction"].result["box"]         # doctest: +SKIP
    >>> a.save("photo-analysis")                               # doctest: +SKIP

    ``image``: an RGB uint8 array or an image file; ``tasks``: a subset (:func:`parse_tasks`)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Analyzer()
    return _DEFAULT.analyze(image, name=name, tasks=tasks)


def analyze_files(analyzer: Analyzer, inputs, out_dir: Union[str, Path], *, overwrite: bool = False,
                  recursive: bool = False, quiet: bool = True,
                  on_result: Optional[Callable[[Path, Analysis, Path], None]] = None):
    """``structnet analyze``: every image of ``inputs`` (files or folders; ``recursive``: with sub-folders) into its
    own folder ``out_dir/<name>/`` (:meth:`Analysis.save`; names are the input stems, made distinct where stems
    collide, as ``predict`` makes them). A folder an earlier run wrote is a UserError before any work unless
    ``overwrite``; with it the folder is replaced whole, only once the new one is complete. A photo that cannot be
    read or analysed is listed and the batch goes on. Returns ``(done, failures)``: ``[(input, folder)]`` and
    ``[(input, one-line reason)]``."""
    from .data.io import check_output_dir, failure_reason, list_images, output_names
    from .runtime import progress

    out = check_output_dir(out_dir, "--out")
    paths = [Path(p) for p in list_images(list(inputs), recursive=recursive)]
    names = output_names(paths)
    if not overwrite:
        for p in paths:
            if (out / names[p]).exists():
                raise UserError(f"{out / names[p]} exists (an earlier run's analysis of {p}); give --overwrite to "
                                f"replace it, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    done, failures = [], []
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".structnet-analyze-"))
    try:
        for p in progress(paths, total=len(paths), desc="analyze", quiet=quiet):
            target = out / names[p]
            try:
                a = analyzer.analyze(p, name=p.name)
                folder = staging / names[p]
                a.save(folder, stem=names[p])
                old = staging / (names[p] + ".old")
                if target.exists():
                    os.replace(target, old)
                os.replace(folder, target)
                shutil.rmtree(old, ignore_errors=True)
            except Exception as e:  # noqa: BLE001 -- one photo's failure ends only it
                failures.append((str(p), failure_reason(p, e)))
                continue
            done.append((p, target))
            if on_result is not None:
                on_result(p, a, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return done, failures
