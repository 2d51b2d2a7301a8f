"""The generic train / evaluate / predict of every task (the CLI's verbs call these).

- :func:`train` builds the task's model, dataset and loss from a config and runs the engine's
  :class:`~structnet.engine.Trainer` (exact resume, checkpoints, logs), then writes ``<out_dir>/model.safetensors``
  with the metadata the hub needs to load it (:meth:`Task.model_metadata`, written by :meth:`Task.save_model`).
  :func:`train_stages` chains configs (``model.init: previous`` starts a stage from the previous stage's weights).
- :func:`evaluate` runs a loaded model over the task's eval dataset into the task's evaluator; samples that
  cannot be read (a missing image) are listed and the rest evaluated. :func:`run_evaluation` is the loop itself
  (tasks reuse it for their own ``evaluate_*`` functions).
- :func:`predict` runs the task's predictor over image files and writes each result with the task's writer,
  under distinct output names (colliding stems keep their extension or relative path). It never replaces a file
  that an earlier run wrote unless asked (``overwrite``), and replaces an input's files as a set: the writer writes
  into a staging folder inside the output folder, and only a complete set is moved into place.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import UserError
from ..runtime import progress
from .base import Evaluator, Task

__all__ = ["PREVIOUS", "resolve_init", "train", "load_stage_configs", "train_stages", "run_evaluation", "evaluate",
           "predict", "PredictReport"]

#: ``model.init`` value that means "the previous stage's weights" in a :func:`train_stages` chain.
PREVIOUS = "previous"


# --------------------------------------------------------------------------------------------------- train
def resolve_init(init: Optional[str], previous: Optional[Path]) -> Optional[Path]:
    """The weights file ``model.init`` names: a path, a bundled model's name (``structnet models``: fine-tune the
    bundled weights), ``previous`` (the previous stage's) or empty (none)."""
    if init is None or init == "":
        return None
    if init == PREVIOUS:
        if previous is None:
            raise UserError("model.init: 'previous' means the previous stage's weights, but this is the first "
                            "stage (chain stages with --stages a.yaml,b.yaml)")
        return Path(previous)
    p = Path(init)
    if p.is_file():
        return p
    from ..bundled import bundled_weights

    bundled = bundled_weights()
    if str(init) in bundled:
        return bundled[str(init)]
    raise UserError(f"model.init: weights file not found: {p} (nor a bundled model: {', '.join(bundled) or 'none'})")


def train(task: Task, cfg, resume: Union[bool, str] = True, previous: Optional[Path] = None) -> Path:
    """Train ``task`` per ``cfg``; returns ``<cfg.train.out_dir>/model.safetensors``.

    The file is (re)written when this call trained at least one step or the file is missing, so re-running a
    finished run does no training and keeps its weights. ``previous``: the file ``model.init: previous`` means."""
    import torch

    from ..data.io import check_output_dir
    from ..engine import Trainer
    from ..engine.config import config_to_dict
    from ..engine.distributed import barrier, is_main_process

    check_output_dir(cfg.train.out_dir, "train.out_dir")
    task.check_config(cfg)
    torch.manual_seed(cfg.train.seed)
    net = task.build_model(cfg)
    init = resolve_init(getattr(cfg.model, "init", None), previous)
    if init is not None:
        task.load_init(net, init)
    task.prepare_model(cfg, net)
    training = task.build_training(cfg)
    eval_fn = task.train_eval_fn(cfg) if cfg.train.eval_every > 0 else None
    trainer = Trainer(net, training.loss, training.dataset, cfg.train, cfg.optim, cfg.schedule, config=cfg,
                      eval_fn=eval_fn, hooks=training.hooks)
    t0 = time.time()
    trainer.train(resume=resume)
    out = Path(cfg.train.out_dir) / "model.safetensors"
    if is_main_process() and (trainer.step > trainer.start_step or not out.is_file()):
        meta = {"train_config": config_to_dict(cfg), "train_seconds": round(time.time() - t0, 1),
                "train_steps": trainer.step, "init": "" if init is None else str(init)}
        if getattr(trainer, "stopped_early", False):
            meta["stopped_early"] = f"train.time_limit at step {trainer.step} of {trainer.max_iters}"
        if trainer.metrics:
            meta["val_metrics"] = trainer.metrics
        meta.update(task.model_metadata(cfg, net))
        task.save_model(net, out, meta)
    barrier()  # a next stage (every rank) reads this file
    return out


def load_stage_configs(task: Task, names: Sequence[str], overrides: Sequence[str] = (),
                       out_root: Optional[Union[str, Path]] = None) -> List[Any]:
    """Configs of a stage chain: each a whole config (packaged name or path); ``overrides`` apply to every stage;
    with ``out_root`` stage k writes to ``out_root/<config stem>``. Stages must write to different folders and
    only a later stage may say ``model.init: previous``."""
    from ..data.io import check_output_dir
    from ..engine.config import load_config

    if not names:
        raise UserError("--stages: no stage config given")
    cfgs = []
    for n in names:
        cfg = load_config(task.config_class, n, list(overrides), task=task.name)
        if out_root is not None:
            cfg.train.out_dir = str(Path(out_root) / Path(str(n)).stem)
        cfgs.append(cfg)
    for c in cfgs:
        check_output_dir(c.train.out_dir, "train.out_dir")
    dirs = [str(Path(c.train.out_dir).resolve()) for c in cfgs]
    dup = sorted({d for d in dirs if dirs.count(d) > 1})
    if dup:
        raise UserError(f"--stages: several stages write to the same train.out_dir {dup[0]} (give each stage its "
                        f"own out_dir, or use --out-root)")
    if getattr(cfgs[0].model, "init", None) == PREVIOUS:
        raise UserError(f"--stages: the first stage {str(names[0])!r} has model.init: previous, but no stage "
                        f"precedes it")
    return cfgs


def train_stages(task: Task, cfgs: Sequence[Any], resume: Union[bool, str] = True) -> List[Path]:
    """Train the stages in order, each starting from the previous one's weights where ``model.init: previous``.
    Re-running a finished chain trains nothing; an interrupted chain resumes in the stage that was running."""
    from ..engine.logging import get_logger

    out, previous = [], None
    for i, cfg in enumerate(cfgs):
        get_logger().info(f"stage {i + 1}/{len(cfgs)}: {cfg.train.out_dir}")
        previous = train(task, cfg, resume=resume, previous=previous)
        out.append(previous)
    return out


# ---------------------------------------------------------------------------------------------- evaluate
def _one_line(e: BaseException) -> str:
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return " ".join(msg.split()) or type(e).__name__


def _sample_name(ds, i: int) -> str:
    recs = getattr(ds, "records", None)
    if recs is not None and i < len(recs):
        return str(getattr(recs[i], "name", i))
    return f"sample {i}"


def run_evaluation(ds, evaluator: Evaluator, predict_sample: Callable[[Dict[str, Any]], Any],
                   max_images: Optional[int] = None, quiet: bool = True, desc: str = "eval") -> Dict[str, Any]:
    """The evaluation loop every task shares: ``evaluator.reset()``, then for each sample ``ds[i]`` (the first
    ``max_images``) ``evaluator.process(sample, predict_sample(sample))``, then ``evaluator.summarize()``.

    A sample that cannot be read (missing or corrupt image: a ValueError or OSError from ``ds[i]``) is skipped
    and listed in the summary's ``failed`` (``[[name, reason], ...]``); errors of the model or the evaluator
    propagate. The summary also gets ``seconds``. UserError when the dataset is empty or no sample could be read.
    """
    n = len(ds) if max_images is None else min(len(ds), int(max_images))
    if n < 1:
        raise UserError("the evaluation dataset is empty (check eval.root / eval.split, or --max-images)")
    evaluator.reset()
    failed: List[Tuple[str, str]] = []
    t0 = time.perf_counter()
    done = 0
    for i in progress(range(n), total=n, desc=desc, quiet=quiet):
        try:
            sample = ds[i]
        except (ValueError, OSError) as e:
            failed.append((_sample_name(ds, i), _one_line(e)))
            continue
        evaluator.process(sample, predict_sample(sample))
        done += 1
    if done == 0:
        raise UserError(f"none of the {n} evaluation samples could be read; first: {failed[0][0]}: {failed[0][1]}")
    summary = evaluator.summarize()
    summary["failed"] = [list(f) for f in failed]
    summary.setdefault("seconds", round(time.perf_counter() - t0, 2))
    return summary


def evaluate(task: Task, model, cfg, max_images: Optional[int] = None, quiet: bool = True) -> Dict[str, Any]:
    """Accuracy of a loaded model (:class:`~structnet.hub.LoadedModel`) on the eval dataset of ``cfg.eval``, with
    the task's evaluator; see :func:`run_evaluation` for missing samples."""
    task.check_eval(cfg, model)
    ds = task.build_eval_dataset(cfg, max_images)
    evaluator = task.build_evaluator(cfg, model)
    return run_evaluation(ds, evaluator, task.eval_predictor(model, cfg), max_images=max_images, quiet=quiet,
                          desc=f"eval {task.name}")


# ----------------------------------------------------------------------------------------------- predict
class PredictReport:
    """What :func:`predict` did: ``results`` ([(path, result, files)]), ``failures`` ([(path, reason)]) and
    ``renamed`` ({path: output name} for inputs whose stem collided with another input's)."""

    def __init__(self):
        self.results: List[Tuple[Path, Any, List[Path]]] = []
        self.failures: List[Tuple[str, str]] = []
        self.renamed: Dict[Path, str] = {}


def existing_outputs(task: Task, out_dir: Path, name: str) -> List[Path]:
    """The files in ``out_dir`` that belong to output name ``name`` of ``task``: ``<name><suffix>`` for each of the
    task's ``output_suffixes``; for a task that declares none, the files whose names start with ``<name>_<task>.``
    or ``<name>_<task>_``."""
    out_dir = Path(out_dir)
    if task.output_suffixes:
        return [out_dir / f"{name}{s}" for s in task.output_suffixes if (out_dir / f"{name}{s}").is_file()]
    if not out_dir.is_dir():
        return []
    prefix = f"{name}_{task.name}"
    return sorted(q for q in out_dir.iterdir()
                  if q.name.startswith(prefix) and q.name[len(prefix):][:1] in (".", "_") and q.is_file())


def predict(task: Task, model, inputs: Iterable[Union[str, Path]], out_dir: Union[str, Path], options,
            quiet: bool = True, on_result: Optional[Callable[[Path, Any], None]] = None, overwrite: bool = False,
            recursive: bool = False) -> PredictReport:
    """Run ``task``'s predictor on every image of ``inputs`` (files or folders; ``recursive``: with their
    sub-folders) and write the results to ``out_dir`` with the task's writer; ``options``: the task's
    ``predict_options`` instance (None: its defaults), given to its predictor and writer.

    Output names are the input stems, made distinct where stems collide (:func:`structnet.data.io.output_names`),
    so no two inputs write the same file. Files an earlier run left for these names (:func:`existing_outputs`)
    are a UserError naming the first one before any image is run, unless ``overwrite``; with ``overwrite`` an
    input's earlier files are replaced as a set (a file of the earlier set that this run does not write is
    removed), and an input that fails keeps its earlier files. An image that cannot be read, predicted or written
    is reported in ``failures`` (one line) and the batch goes on. UserError when ``inputs`` hold no image."""
    from ..data.io import check_output_dir, failure_reason, list_images, output_names, output_renamings, read_image

    out = check_output_dir(out_dir, "--out")
    paths = [Path(p) for p in list_images(list(inputs), recursive=recursive)]
    names = output_names(paths)
    options = task.options_or_defaults(options)
    fn = task.predictor(model, options)  # refuses options that do not fit the model
    if not overwrite:
        for p in paths:
            clash = existing_outputs(task, out, names[p])
            if clash:
                raise UserError(f"{clash[0]} exists (an earlier run's output for {p}); give --overwrite to replace "
                                f"the files of earlier runs, or another --out")
    report = PredictReport()
    report.renamed = dict(output_renamings(names))
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=f".structnet-{task.name}-"))
    try:
        for p in progress(paths, total=len(paths), desc=f"predict {task.name}", quiet=quiet):
            try:
                image = read_image(p)
                result = fn(image)
                staged = task.write(result, image, staging, names[p], source=Path(p), options=options)
                files = _move_into_place(task, staged, staging, out, names[p], overwrite)
            except Exception as e:  # noqa: BLE001 -- one image's failure (bad file, bad box, model error) ends only it
                report.failures.append((str(p), failure_reason(p, e)))
                continue
            finally:
                for q in staging.iterdir():
                    q.unlink() if not q.is_dir() else shutil.rmtree(q, ignore_errors=True)
            report.results.append((Path(p), result, files))
            if on_result is not None:
                on_result(Path(p), result)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _move_into_place(task: Task, staged: Sequence[Path], staging: Path, out: Path, name: str,
                     overwrite: bool) -> List[Path]:
    """Move one input's complete set of written files from ``staging`` into ``out``; with ``overwrite`` the files
    of the input's earlier set that this set lacks are removed, without it an existing file is an error."""
    moves = [(Path(f), out / Path(f).name) for f in staged if Path(f).parent == staging]
    if not overwrite:
        clash = [dst for _, dst in moves if dst.exists()]
        if clash:
            raise UserError(f"{clash[0]} exists (an earlier run's output); give --overwrite to replace it")
    new = {dst.name for _, dst in moves}
    stale = [q for q in existing_outputs(task, out, name) if q.name not in new] if overwrite else []
    for src, dst in moves:
        os.replace(src, dst)
    for q in stale:
        q.unlink(missing_ok=True)
    return [dst for _, dst in moves] + [Path(f) for f in staged if Path(f).parent != staging]
