"""``structnet`` command line, generated from the task registry (:mod:`structnet.tasks`).

``structnet train|eval|predict <task>`` exists for every registered task and ``structnet score <task>`` for tasks
that score prediction files; the flags common to all tasks are defined here once, each task adds its own through
its ``add_*_arguments`` slots (generated from its option dataclasses, :mod:`structnet.tasks.options`). ``structnet models`` lists the bundled models, ``structnet configs`` the packaged
configs, ``structnet demo`` runs the bundled models on sample photos. A new task needs no edit of this file.

Every user error ends in one line ``structnet: error: ...`` on stderr and exit status 2; a batch where some inputs
failed exits with 1 after listing them; success is 0.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from . import __version__
from .errors import UserError, a_or_an
from .tasks.args import nonneg_int, positive_int
from .tasks.options import join_negative_values

__all__ = ["build_parser", "main"]

PRECISIONS = ["auto", "float32", "bfloat16"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``structnet: error: <what> (see '<prog> --help')``."""

    def error(self, message):  # noqa: D102
        sys.stderr.write(f"structnet: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def _backend_arg(p) -> None:
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"],
                   help="auto (default) = ONNX Runtime where the task exports its network, onnxruntime is installed "
                        "and the precision is float32 on the CPU (faster, same numbers), else PyTorch")


def _thread_count(text: str) -> int:
    from .runtime import max_threads

    v = nonneg_int(text)
    if v > max_threads():
        raise argparse.ArgumentTypeError(f"at most {max_threads()} (4 x the cores of this machine), got {text}")
    return v


def _threads_arg(p) -> None:
    p.add_argument("--threads", type=_thread_count, default=None,
                   help="CPU threads (default: $STRUCTNET_THREADS, else the cores idle right now; at most 4 x the "
                        "cores)")


def _model_args(p, task) -> None:
    default = task.default_model or "none: give a weights file"
    p.add_argument("--model", default=None,
                   help=f"bundled model name or weights file (default: {default}; see 'structnet models')")
    p.add_argument("--weights", default=None, help="a weights file from 'structnet train' (same as --model FILE)")


def _task_subparsers(verbs, verb: str, help: str, names):
    """``structnet <verb> <task>``: one subparser per task name."""
    vp = verbs.add_parser(verb, help=help)
    return vp.add_subparsers(dest="task", required=True, metavar="{" + ",".join(names) + "}", parser_class=_Parser)


def _add_train(verbs, tasks) -> None:
    sub = _task_subparsers(verbs, "train", VERBS["train"], tasks.names())
    for name in tasks.names():
        t = tasks.get(name)
        p = sub.add_parser(name, help=t.summary,
                           description=f"Train {a_or_an(name)} {name} model. One run: --config NAME_OR_FILE; stages "
                                       f"trained in order: --stages a,b,c (a stage with model.init: previous starts "
                                       f"from the previous stage's weights). Overrides are dotted keys, e.g. "
                                       f"train.max_iters=100 optim.lr=1e-4. Packaged configs: 'structnet configs "
                                       f"{name}'.")
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--config", help="packaged config name or YAML file")
        g.add_argument("--stages", help="comma-separated config names or files trained in order")
        p.add_argument("--out-root", default=None,
                       help="with --stages: stage k writes to OUT_ROOT/<config stem> instead of its train.out_dir")
        p.add_argument("--no-resume", action="store_true", help="start afresh even if out_dir has a checkpoint")
        _threads_arg(p)
        p.add_argument("overrides", nargs="*", help="key=value overrides of the config(s)")
        p.set_defaults(func=_train)


def _add_eval(verbs, tasks) -> None:
    sub = _task_subparsers(verbs, "eval", VERBS["eval"], tasks.names())
    for name in tasks.names():
        t = tasks.get(name)
        p = sub.add_parser(name, help=f"evaluate {a_or_an(name)} {name} model on a dataset",
                           description=f"Run {a_or_an(name)} {name} model on the dataset of the config's eval "
                                       f"section (flags override it) and score it. Images that cannot be read are "
                                       f"listed and the rest evaluated (exit status 1).")
        _model_args(p, t)
        p.add_argument("--config", default=None, help="packaged config name or YAML file whose eval section is used")
        p.add_argument("--dataset", default=None, help="eval dataset name (see the task's docs)")
        p.add_argument("--root", default=None, help="dataset folder or annotation file")
        p.add_argument("--split", default=None, help="dataset split")
        p.add_argument("--max-images", type=positive_int, default=None, help="evaluate the first N items only")
        p.add_argument("--precision", default=None, choices=PRECISIONS, help="inference precision")
        _backend_arg(p)
        p.add_argument("--json", default=None, help="write the result as JSON here")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        _threads_arg(p)
        t.add_eval_arguments(p)
        p.add_argument("overrides", nargs="*", help="key=value overrides of the config (eval.*, data.*)")
        p.set_defaults(func=_eval)


def _add_predict(verbs, tasks) -> None:
    sub = _task_subparsers(verbs, "predict", VERBS["predict"], tasks.names())
    for name in tasks.names():
        t = tasks.get(name)
        p = sub.add_parser(name, help=t.summary,
                           description=f"Writes {t.outputs}. <name> is the input's stem, or stem_extension / the "
                                       f"relative path where stems collide; every file name starts with "
                                       f"<name>_{name}, so tasks can share an output folder. Files of an earlier run "
                                       f"are not replaced unless --overwrite is given. Files that cannot be read are "
                                       f"listed at the end (exit status 1); the others are written.")
        p.add_argument("inputs", nargs="+", help="image files or folders")
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--overwrite", action="store_true",
                       help="replace the files an earlier run wrote for the same inputs (each input's files as a set)")
        p.add_argument("--recursive", action="store_true", help="also take the images in sub-folders of input folders")
        _model_args(p, t)
        p.add_argument("--precision", default=None, choices=PRECISIONS,
                       help="auto (default) = bfloat16 where the CPU/GPU runs it natively, else float32")
        _backend_arg(p)
        p.add_argument("--quiet", action="store_true", help="no progress bar and no per-image lines")
        _threads_arg(p)
        t.add_predict_arguments(p)
        p.set_defaults(func=_predict)


def _add_score(verbs, tasks) -> None:
    scorers = [n for n in tasks.names() if tasks.get(n).can_score]
    if not scorers:
        return
    sub = _task_subparsers(verbs, "score", VERBS["score"], scorers)
    for name in scorers:
        t = tasks.get(name)
        p = sub.add_parser(name, help=f"score {name} prediction files",
                           description=f"Score a folder of {name} predictions against ground truth with the "
                                       f"published protocol. Missing or unreadable predictions are listed (exit "
                                       f"status 1) and the rest scored.")
        t.add_score_arguments(p)
        p.add_argument("--json", default=None, help="write the result as JSON here")
        p.set_defaults(func=_score)


def _add_export(verbs, tasks) -> None:
    sub = _task_subparsers(verbs, "export", VERBS["export"], tasks.names())
    for name in tasks.names():
        t = tasks.get(name)
        p = sub.add_parser(name, help=f"export {a_or_an(name)} {name} model to ONNX",
                           description="Write the network as float32 ONNX (opset 17, batch axis free): what "
                                       "--backend onnxruntime runs. Input 'input' (N, 3, H, W) RGB in [0, 1]; the "
                                       "outputs and the fixed H, W are printed.")
        _model_args(p, t)
        p.add_argument("--out", required=True, help="the .onnx file to write")
        p.set_defaults(func=_export)


#: The verbs and their one-line help (the top-level ``--help`` lists them without importing any task).
VERBS = {"train": "train a task's model",
         "eval": "run a model on a dataset and score it with the published protocol",
         "predict": "run a model on image files",
         "score": "score prediction files against ground truth",
         "export": "write a model's network as an ONNX graph",
         "models": "list the bundled models",
         "configs": "list the packaged training configs",
         "demo": "run the bundled models on sample photos that need no download",
         "analyze": "every structure of each photo: one folder with analysis.json, the pictures and report.html",
         "serve": "a local web app and HTTP API for analysing photos (default http://127.0.0.1:8000)"}


def build_parser(tasks_too: bool = True) -> argparse.ArgumentParser:
    """The whole CLI; ``tasks_too=False``: the verbs without their task sub-commands, what ``--version``, the
    top-level ``--help`` and a mistyped verb need (imports no task, hence no torch)."""
    p = _Parser(prog="structnet", description="Deep multi-scale structure extraction.")
    p.add_argument("--version", action="version", version=f"structnet {__version__}")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=_Parser, metavar="{" + ",".join(VERBS) + "}")
    p.negative_value_flags = []
    if not tasks_too:
        for verb, help in VERBS.items():
            verbs.add_parser(verb, help=help)
        return p
    from . import tasks

    p.negative_value_flags = sorted({f for n in tasks.names() for f in tasks.get(n).negative_value_flags()})
    _add_train(verbs, tasks)
    _add_eval(verbs, tasks)
    _add_predict(verbs, tasks)
    _add_score(verbs, tasks)
    _add_export(verbs, tasks)
    mp = verbs.add_parser("models", help=VERBS["models"])
    mp.add_argument("--task", default=None, help="only this task's models")
    mp.add_argument("--json", action="store_true", help="print JSON")
    mp.set_defaults(func=_models)
    cp = verbs.add_parser("configs", help=VERBS["configs"])
    cp.add_argument("task", nargs="?", default=None, help="only this task's configs")
    cp.set_defaults(func=_configs)
    dp = verbs.add_parser("demo", help=VERBS["demo"])
    dp.add_argument("--out", default="structnet-demo", help="output folder (default: ./structnet-demo)")
    dp.add_argument("--precision", default="auto", choices=PRECISIONS)
    _threads_arg(dp)
    dp.set_defaults(func=_demo)
    ap = verbs.add_parser("analyze", help=VERBS["analyze"])
    ap.add_argument("inputs", nargs="+", help="image files or folders")
    ap.add_argument("--out", required=True, help="output folder: one sub-folder per photo")
    ap.add_argument("--tasks", default="all", help="comma list of skeleton, extraction, pose2d, hypercolumn, pose3d "
                                                     "(default: all; the person tasks bring pose2d)")
    ap.add_argument("--overwrite", action="store_true", help="replace the folders of an earlier run")
    ap.add_argument("--recursive", action="store_true", help="also take images in sub-folders of input folders")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS)
    ap.add_argument("--json", default=None, help="also write a summary of the batch (inputs, folders, failures)")
    ap.add_argument("--quiet", action="store_true", help="no per-photo lines")
    _threads_arg(ap)
    ap.set_defaults(func=_analyze)
    sp = verbs.add_parser("serve", help=VERBS["serve"])
    sp.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it to the network)")
    sp.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    sp.add_argument("--tasks", default="all", help="tasks the server offers (default: all)")
    sp.add_argument("--queue", type=positive_int, default=None,
                    help="requests that may wait for the model at once before new ones get 503 (default 32)")
    sp.add_argument("--max-upload-mb", type=float, default=None, help="largest upload in MB (default 20)")
    sp.add_argument("--precision", default="auto", choices=PRECISIONS)
    _threads_arg(sp)
    sp.set_defaults(func=_serve)
    return p


def _port(text: str) -> int:
    v = nonneg_int(text)
    if not 0 < v < 65536:
        raise argparse.ArgumentTypeError(f"a TCP port is 1..65535, got {text}")
    return v


# -------------------------------------------------------------------------------------------------- verbs
def _check_json(path: Optional[str]) -> None:
    """Refuse a ``--json`` path that cannot be written, before any work."""
    if path:
        from .data.io import check_output_file

        check_output_file(path, "--json")


def _write_json(path: Optional[str], obj) -> None:
    if path:
        from .data.io import write_json

        write_json(Path(path), obj)


def _report(failures, what: str = "file(s)") -> int:
    if not failures:
        return 0
    print(f"{len(failures)} {what} failed:", file=sys.stderr)
    for path, why in failures:
        print(f"  {path}: {why}", file=sys.stderr)
    return 1


def _load_model(args, task, precision: str = "auto", options=None):
    from . import hub

    if args.model is not None and args.weights is not None:
        raise UserError("give --model or --weights, not both")
    name = args.weights if args.weights is not None else args.model
    if name is None:
        name = task.default_model_for(options)
    return hub.load(name, task=task.name,
                    backend=getattr(args, "backend", "torch"), precision=precision or "auto")


def _train(args) -> int:
    from . import tasks
    from .engine.config import load_config
    from .runtime import set_threads
    from .tasks import run

    task = tasks.get(args.task)
    set_threads(args.threads)
    resume = not args.no_resume
    if args.stages:
        names = [s.strip() for s in args.stages.split(",") if s.strip()]
        for w in run.train_stages(task, run.load_stage_configs(task, names, args.overrides, args.out_root),
                                  resume=resume):
            print(f"weights: {w}")
        return 0
    if args.out_root:
        raise UserError("--out-root goes with --stages (one run: override train.out_dir)")
    cfg = load_config(task.config_class, args.config, args.overrides, task=task.name)
    print(f"weights: {run.train(task, cfg, resume=resume)}")
    return 0


def _eval(args) -> int:
    from . import tasks
    from .engine.config import load_config
    from .runtime import set_threads
    from .tasks import run

    task = tasks.get(args.task)
    _check_json(args.json)
    set_threads(args.threads)
    config = args.config if args.config is not None else task.default_eval_config
    cfg = load_config(task.config_class, config, list(args.overrides), task=task.name)
    e = cfg.eval
    for key in ("dataset", "root", "split", "precision", "max_images"):
        v = getattr(args, key, None)
        if v is not None:
            if not hasattr(e, key):
                raise UserError(f"--{key.replace('_', '-')}: the {task.name} eval config has no {key!r}")
            setattr(e, key, v)
    task.apply_eval_arguments(cfg, args)
    model = _load_model(args, task, getattr(e, "precision", "auto"), e)
    res = run.evaluate(task, model, cfg, max_images=getattr(e, "max_images", None), quiet=args.quiet)
    res["model"] = model.name
    res["weights"] = str(model.source)
    res["backend"] = model.backend
    res["dataset"] = {k: getattr(e, k) for k in ("dataset", "root", "split") if hasattr(e, k)}
    evaluator = task.build_evaluator(cfg, model)
    print(evaluator.format(res))
    _write_json(args.json, res)
    return _report(res.get("failed", []), "item(s)")


def _predict(args) -> int:
    from . import tasks
    from .data.io import check_output_dir, images_in_sub_folders
    from .runtime import set_threads
    from .tasks import run

    task = tasks.get(args.task)
    check_output_dir(args.out, "--out")
    set_threads(args.threads)
    options = task.predict_options_from(args)
    model = _load_model(args, task, options.precision, options)

    def say(path, result):
        if not args.quiet:
            line = task.describe(result)
            print(f"{path}: {line}" if line else str(path))

    report = run.predict(task, model, args.inputs, args.out, options, quiet=args.quiet, on_result=say,
                         overwrite=args.overwrite, recursive=args.recursive)
    for path, name in report.renamed.items():
        print(f"note: {path} is written as {name}* (its stem collides with another input's)", file=sys.stderr)
    print(f"{len(report.results)} image(s) written to {args.out}")
    skipped = 0 if args.recursive else images_in_sub_folders(args.inputs)
    if skipped:
        print(f"note: {skipped} image(s) in sub-folders of the input folder(s) were skipped (--recursive takes them)",
              file=sys.stderr)
    return _report(report.failures)


def _export(args) -> int:
    from . import tasks
    from .atomic import atomic_write
    from .nn.onnx_backend import export_onnx

    task = tasks.get(args.task)
    out = Path(args.out)
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; give the .onnx file to write")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
    model = _load_model(args, task)
    spec = task.onnx_spec(model)
    if spec is None:
        raise UserError(f"the {task.name} task has no ONNX export yet")
    data = export_onnx(model.network, spec)
    atomic_write(out, lambda f: f.write(data))
    shape = "x".join(str(v) for v in spec.input_shape[1:])
    print(f"{out}: {model.name}, input 'input' (N, {shape}), outputs {', '.join(spec.output_names)} "
          f"({len(data) / 2 ** 20:.1f} MB)")
    return 0


def _score(args) -> int:
    from . import tasks

    task = tasks.get(args.task)
    _check_json(args.json)
    if getattr(args, "plot", None):
        from .data.io import check_output_file

        check_output_file(args.plot, "--plot")
    summary, evaluator, failures = task.score(task.score_options_from(args))
    if failures and not summary.get("n", summary.get("n_images", 1)):
        path, why = failures[0]
        raise UserError(f"no prediction could be scored: none of the {len(failures)} item(s) has a readable "
                        f"prediction in {getattr(args, 'pred', 'the prediction folder')} (first: {path}: {why})")
    summary["failed"] = [list(f) for f in failures]
    print(evaluator.format(summary))
    _write_json(args.json, summary)
    return _report(failures)


def _models(args) -> int:
    import json

    from . import hub, tasks

    if args.task is not None:
        tasks.get(args.task)  # validates the name
    rows = hub.models(args.task)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
        return 0
    if not rows:
        print("no bundled models" + (f" for {args.task}" if args.task else ""))
        return 0
    w = max(len(r.name) for r in rows)
    print(f"{'name':{w}s}  {'task':9s}  {'size':>8s}  headline")
    for r in rows:
        print(f"{r.name:{w}s}  {r.task:9s}  {r.size_mb:6.1f} MB  {r.headline}")
    return 0


def _configs(args) -> int:
    from . import tasks
    from .engine.config import list_configs

    names = [args.task] if args.task else tasks.names()
    for n in names:
        tasks.get(n)
        for c in list_configs(n):
            print(f"{n:9s} {c}")
    return 0


def _demo(args) -> int:
    from .data.io import check_output_dir
    from .demo import run_demo
    from .runtime import set_threads

    check_output_dir(args.out, "--out")
    set_threads(args.threads)
    return run_demo(args.out, precision=args.precision)


def _analyze(args) -> int:
    from .analysis import Analyzer, analyze_files
    from .data.io import check_output_dir, images_in_sub_folders
    from .runtime import set_threads

    check_output_dir(args.out, "--out")
    _check_json(args.json)
    set_threads(args.threads)
    analyzer = Analyzer(args.tasks, precision=args.precision)

    def say(path, analysis, folder):
        if not args.quiet:
            states = ", ".join(f"{t} {r.status}" for t, r in analysis.tasks.items())
            print(f"{path}: {states} ({analysis.seconds:.1f} s) -> {folder / 'report.html'}")

    done, failures = analyze_files(analyzer, args.inputs, args.out, overwrite=args.overwrite,
                                   recursive=args.recursive, quiet=args.quiet, on_result=say)
    print(f"{len(done)} photo(s) analysed into {args.out}")
    skipped = 0 if args.recursive else images_in_sub_folders(args.inputs)
    if skipped:
        print(f"note: {skipped} image(s) in sub-folders of the input folder(s) were skipped (--recursive takes them)",
              file=sys.stderr)
    _write_json(args.json, {"done": [[str(p), str(f)] for p, f in done], "failed": [list(f) for f in failures]})
    return _report(failures)


def _serve(args) -> int:
    from .runtime import set_threads
    from .serve import ServeSettings, run_server

    set_threads(args.threads)
    settings = ServeSettings(tasks=args.tasks, precision=args.precision)
    if args.queue is not None:
        settings.queue = args.queue
    if args.max_upload_mb is not None:
        if not args.max_upload_mb > 0:
            raise UserError(f"--max-upload-mb must be > 0, got {args.max_upload_mb}")
        settings.max_upload_bytes = int(args.max_upload_mb * 2 ** 20)
    return run_server(settings, host=args.host, port=args.port)


def main(argv: Optional[List[str]] = None) -> int:
    try:
        try:
            argv = sys.argv[1:] if argv is None else list(argv)
            parser = build_parser(tasks_too=any(a in VERBS for a in argv))
            args = parser.parse_args(join_negative_values(argv, parser.negative_value_flags))
        except SystemExit as e:  # --help, --version, or a usage error already printed in one line
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, KeyError, ValueError) as e:  # user errors: one line, no traceback
        msg = " ".join(str(e.args[0] if isinstance(e, KeyError) and e.args else e).split())
        if "${data}" in msg:  # a dataset root that could not be placed: say how to place it
            msg += " (${data} is the datasets folder: set STRUCTNET_DATA=/path/to/data, or pass the root, e.g. " \
                   "data.root=PATH / eval.root=PATH / --root PATH)"
        print(f"structnet: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # training says where it saved its checkpoint
        print("structnet: interrupted" + (f": {e}" if str(e) else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. 'structnet configs | head': the reader left, nothing to report
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
