"""Subcommands of the pose2d task: ``structnet train|eval|predict pose2d`` (see docs/pose2d.md)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Tuple


def add_train_parser(sub) -> None:
    p = sub.add_parser("pose2d", help="train the multi-scale structure-aware hourglass (one stage or a chain)",
                       description="Train a 2D pose model. One stage: --config FILE. The paper's three stages: "
                                   "--stages s1.yaml,s2.yaml,s3.yaml (a stage with model.init: previous starts "
                                   "from the previous stage's weights). Overrides are dotted keys applied to "
                                   "every stage, e.g. train.max_iters=100 optim.lr=1e-4")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--config", help="YAML file of one training run (configs/pose2d/*.yaml)")
    g.add_argument("--stages", help="comma-separated YAML files trained in order (stage chain)")
    p.add_argument("--out-root", default=None,
                   help="with --stages: stage k writes to OUT_ROOT/<stem of its file> instead of its train.out_dir")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the config(s)")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if out_dir has a checkpoint")
    p.set_defaults(func=_train)


def add_eval_parser(sub) -> None:
    p = sub.add_parser("pose2d", help="PCK@0.2 (LSP, torso) / PCKh@0.5 (MPII) per joint, mean and AUC",
                       description="Evaluate a pose model on a dataset: per-joint table, mean and AUC. The "
                                   "dataset comes from --config's eval section (default: LSPET val), the flags "
                                   "below override it.")
    p.add_argument("--weights", default=None, help="safetensors from 'structnet train pose2d' (default: bundled model)")
    p.add_argument("--config", default=None, help="YAML config whose eval (and data) sections are used")
    p.add_argument("--dataset", default=None, choices=["lspet", "mpii", "coco", "lsp-mat", "synthetic"])
    p.add_argument("--root", default=None, help="dataset folder / annotation file")
    p.add_argument("--image-dir", default=None, help="image folder (mpii, coco, lsp-mat)")
    p.add_argument("--split", default=None, help="dataset split (lspet: train|val|all)")
    p.add_argument("--metric", default=None, choices=["auto", "pck", "pckh"])
    p.add_argument("--threshold", type=float, default=None, help="PCK threshold (default 0.2 PCK, 0.5 PCKh)")
    p.add_argument("--protocol", default=None, help="PCKh protocol: official|matlab|hrnet|mmpose")
    p.add_argument("--flip", dest="flip", action="store_true", default=None, help="flip test (default: on)")
    p.add_argument("--no-flip", dest="flip", action="store_false", help="no flip test")
    p.add_argument("--scales", default=None, help="comma-separated window factors, e.g. 1.0 or 0.75,1,1.25")
    p.add_argument("--window", default=None, choices=["annotation", "image"],
                   help="person window: the annotation's (default) or the whole image")
    p.add_argument("--max-images", type=int, default=None, help="evaluate the first N persons only")
    p.add_argument("--precision", default=None, choices=["float32", "bfloat16", "auto"])
    p.add_argument("--json", default=None, help="write the result as JSON here")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the config (eval.*, data.*)")
    p.set_defaults(func=_eval)


def add_predict_parser(sub) -> None:
    p = sub.add_parser("pose2d", help="2D human pose for images",
                       description="Writes <stem>_pose.json and <stem>_overlay.png per image. Files that cannot "
                                   "be read are listed at the end (exit status 1); the others are written.")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--weights", default=None, help="safetensors from 'structnet train pose2d' (default: bundled model)")
    p.add_argument("--box", default=None, help="person box x1,y1,x2,y2 in pixels (default: the whole image)")
    p.add_argument("--flip", dest="flip", action="store_true", default=True, help="flip test (default)")
    p.add_argument("--no-flip", dest="flip", action="store_false", help="no flip test")
    p.add_argument("--scales", default="1.0", help="comma-separated window factors (default 1.0)")
    p.add_argument("--refine", default="dark", choices=["dark", "quarter", "none"], help="sub-pixel decoding")
    p.add_argument("--conditional", action="store_true",
                   help="the paper's conditional testing (re-trials on perturbed windows for low-score joints)")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="auto = bfloat16 where the CPU/GPU runs it natively, else float32")
    p.set_defaults(func=_predict)


def _floats(text: str, name: str, n: Optional[int] = None) -> Tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if not vals or (n is not None and len(vals) != n):
        raise ValueError(f"{name}: expected {n or 'one or more'} comma-separated numbers, got {text!r}")
    return vals


def _report(failures) -> int:
    from ..data.io import report_failures

    return 1 if report_failures(failures) else 0


def _train(args) -> int:
    from ..engine.config import load_config
    from .config import Pose2DConfig
    from .train import load_stage_configs, train, train_stages

    resume = not args.no_resume
    if args.stages:
        paths = [s.strip() for s in args.stages.split(",") if s.strip()]
        cfgs = load_stage_configs(paths, args.overrides, args.out_root)
        for w in train_stages(cfgs, resume=resume):
            print(f"weights: {w}")
        return 0
    if args.out_root:
        raise ValueError("--out-root goes with --stages (one stage: override train.out_dir)")
    cfg = load_config(Pose2DConfig, args.config, args.overrides)
    print(f"weights: {train(cfg, resume=resume)}")
    return 0


def _eval(args) -> int:
    from ..engine.config import load_config
    from .config import Pose2DConfig
    from .inference import load_pose_model
    from .evaluate import evaluate_pose2d, format_results
    from .train import build_eval_dataset, layout_of

    over: List[str] = list(args.overrides)
    cfg = load_config(Pose2DConfig, args.config, over)
    e = cfg.eval
    for key, val in (("dataset", args.dataset), ("root", args.root), ("image_dir", args.image_dir),
                     ("split", args.split), ("metric", args.metric), ("threshold", args.threshold),
                     ("protocol", args.protocol), ("window", args.window), ("precision", args.precision),
                     ("max_images", args.max_images)):
        if val is not None:
            setattr(e, key, val)
    if args.flip is not None:
        e.flip_test = bool(args.flip)
    if args.scales is not None:
        e.scales = list(_floats(args.scales, "--scales"))
    layout_of(e.dataset)  # validates the name
    net = load_pose_model(args.weights)
    if net.pose_layout.name != layout_of(e.dataset):
        raise ValueError(f"the model predicts {net.pose_layout.name} joints but eval dataset {e.dataset!r} is "
                         f"{layout_of(e.dataset)}")
    ds = build_eval_dataset(cfg, e.max_images)
    res = evaluate_pose2d(net, ds, metric=e.metric, threshold=e.threshold, protocol=e.protocol,
                          flip_test=e.flip_test, scales=tuple(e.scales), refine=e.refine, window=e.window,
                          precision=e.precision, max_images=e.max_images)
    res["weights"] = str(args.weights) if args.weights else "bundled"
    res["dataset"] = {"name": e.dataset, "root": e.root, "split": e.split}
    print(format_results(res))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


def _predict(args) -> int:
    from ..data.io import list_images, process_batch
    from .inference import DEFAULT_DRAW_THRESHOLD, ConditionalTesting, load_pose_model, predict_file

    box = _floats(args.box, "--box", 4) if args.box else None
    scales = _floats(args.scales, "--scales")
    if any(s <= 0 for s in scales):
        raise ValueError(f"--scales: window factors must be > 0, got {args.scales!r}")
    net = load_pose_model(args.weights)
    cond = ConditionalTesting() if args.conditional else None
    paths = list_images(args.inputs)
    out = Path(args.out)
    results, failures = process_batch(
        paths, lambda p: predict_file(net, Path(p), out, box=box, flip_test=args.flip, scales=scales,
                                      refine=args.refine, conditional=cond, precision=args.precision))
    for r in results:
        good = sum(1 for j in r["joints"] if j["score"] is not None and j["score"] >= DEFAULT_DRAW_THRESHOLD)
        print(f"{r['image']}: {good}/{len(r['joints'])} joints with score >= {DEFAULT_DRAW_THRESHOLD:g}")
    print(f"{len(results)} image(s) written to {out}")
    return _report(failures)
