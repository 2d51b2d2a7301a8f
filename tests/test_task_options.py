"""Task options: one dataclass per verb and task, the flags generated from it, every numeric flag's range."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from structnet import cli, tasks
from structnet.data.io import write_png
from structnet.errors import UserError
from structnet.tasks import options as opts

VERBS = ("predict", "eval", "score")


def _options_class(task, verb):
    return {"predict": task.predict_options, "eval": task.eval_options, "score": task.score_options}[verb]


def _required(task, verb, tmp):
    """Arguments a parse of ``verb task`` needs besides the flag under test."""
    if verb == "predict":
        return [str(tmp / "x.png"), "--out", str(tmp / "out")]
    if verb == "score":
        return [a for f, s in opts.option_fields(task.score_options) if s.required
                for a in (opts.flag_of(f, s), str(tmp))]
    return []


def _option_classes():
    """(task name, verb, options dataclass) of every registered task's verbs that have one."""
    for name in tasks.names():
        for verb in VERBS:
            cls = _options_class(tasks.get(name), verb)
            if cls is not None:
                yield name, verb, cls


def _numeric_cases():
    # boxes (coordinates, any number) are left to test_negative_box_values_parse
    return [pytest.param(name, verb, f.name, id=f"{verb}-{name}-{f.name}")
            for name, verb, cls in _option_classes() for f, spec, kind in opts.numeric_fields(cls)
            if spec.count is None]


def _edges(spec, kind):
    """(accepted, refused) values at the low end, and at the high end where there is one."""
    cases = []
    step = 1 if kind is int else 1e-3
    if spec.low is not None:
        accepted = spec.low + step if spec.low_open else spec.low
        refused = spec.low if spec.low_open else spec.low - step
        cases.append((kind(accepted), kind(refused)))
    if spec.high is not None:
        accepted = spec.high - step if spec.high_open else spec.high
        refused = spec.high if spec.high_open else spec.high + step
        cases.append((kind(accepted), kind(refused)))
    return cases


def _text(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def test_every_task_has_typed_options_and_numeric_flags_have_ranges():
    for name in tasks.names():
        task = tasks.get(name)
        assert dataclasses.is_dataclass(task.predict_options), name
        assert dataclasses.is_dataclass(task.eval_options), name
        for verb in VERBS:
            cls = _options_class(task, verb)
            for f, spec, kind in opts.numeric_fields(cls) if cls is not None else []:
                assert spec.count is not None or spec.low is not None or spec.high is not None, f"{verb} {name} {f.name}: no range"


@pytest.mark.parametrize("name,verb,field_name", _numeric_cases())
def test_numeric_flag_edges(name, verb, field_name, tmp_path, capsys):
    """The edge value of every numeric flag is accepted and arrives unchanged; one step outside is refused by the
    parser in one line (exit status 2, nothing run)."""
    task = tasks.get(name)
    cls = _options_class(task, verb)
    f, spec, kind = next(x for x in opts.numeric_fields(cls) if x[0].name == field_name)
    flag = opts.flag_of(f, spec)
    cases = _edges(spec, kind)
    assert cases
    parser = cli.build_parser()
    for accepted, refused in cases:
        argv = [verb, name, *_required(task, verb, tmp_path), flag, _text(accepted)]
        args = parser.parse_args(opts.join_negative_values(argv, parser.negative_value_flags))
        if verb == "eval":
            target = task.eval_options()
            task.apply_eval_arguments(type("C", (), {"eval": target})(), args)
        elif verb == "predict":
            target = task.predict_options_from(args)
        else:
            target = task.score_options_from(args)
        got = getattr(target, field_name)
        got = got[0] if isinstance(got, (list, tuple)) else got
        assert got == accepted and type(got) is kind, (flag, accepted, got)
        opts.check(target)
        capsys.readouterr()
        rc = cli.main([verb, name, *_required(task, verb, tmp_path), flag, _text(refused)])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and flag in err, (flag, refused, err)


def _bool_cases():
    return [pytest.param(name, verb, opts.flag_of(f, spec), id=f"{verb}-{name}-{f.name}")
            for name, verb, cls in _option_classes() for f, spec in opts.option_fields(cls)
            if opts._is_bool(f, spec)]


@pytest.mark.parametrize("name,verb,flag", _bool_cases())
def test_bool_flag_and_its_negation_together_are_refused(name, verb, flag, tmp_path, capsys):
    task = tasks.get(name)
    base = [verb, name, *_required(task, verb, tmp_path)]
    parser = cli.build_parser()
    assert parser.parse_args(base + [flag]) and parser.parse_args(base + ["--no-" + flag[2:]])
    rc = cli.main(base + [flag, "--no-" + flag[2:]])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not allowed with" in err


def test_option_defaults_are_the_dataclass_defaults(tmp_path):
    """A predict without flags gives the dataclass's defaults: the Python API and the CLI start from one place."""
    parser = cli.build_parser()
    for name in tasks.names():
        task = tasks.get(name)
        args = parser.parse_args(["predict", name, *_required(task, "predict", tmp_path)])
        assert task.predict_options_from(args) == task.predict_options(), name


def test_options_built_in_python_are_checked():
    with pytest.raises(UserError, match="--threshold: must be a number in \\[0, 1\\], got 1.5"):
        tasks.get("extraction").predictor(None, tasks.get("extraction").predict_options(threshold=1.5))


# ------------------------------------------------------------------------------------------------ extraction
def test_extraction_threshold_zero_means_zero(tmp_path, monkeypatch):
    """``--threshold 0`` reaches the extraction as 0 (foreground wherever the probability is above 0)."""
    import structnet.extraction.inference as inference

    seen = []
    real = inference.extract

    def spy(*a, **kw):
        seen.append(kw["threshold"])
        return real(*a, **kw)

    monkeypatch.setattr(inference, "extract", spy)
    img = write_png(tmp_path / "x.png", np.full((40, 50, 3), 128, np.uint8))
    assert cli.main(["predict", "extraction", str(img), "--out", str(tmp_path / "o"), "--threshold", "0",
                     "--quiet", "--precision", "float32", "--backend", "torch"]) == 0
    assert seen == [0.0]


def test_negative_box_values_parse(tmp_path):
    """``--box -100,5,200,300`` (a box reaching left of the image) needs no ``=``."""
    parser = cli.build_parser()
    seen = 0
    for name in tasks.names():
        task = tasks.get(name)
        if "box" not in {f.name for f in dataclasses.fields(task.predict_options)}:
            continue
        argv = ["predict", name, *_required(task, "predict", tmp_path), "--box", "-100,5,200,300"]
        args = parser.parse_args(opts.join_negative_values(argv, parser.negative_value_flags))
        assert task.predict_options_from(args).box == (-100.0, 5.0, 200.0, 300.0)
        seen += 1
    assert seen == 3  # pose2d, pose3d, hypercolumn


def test_negative_box_through_main(tmp_path, capsys):
    img = write_png(tmp_path / "x.png", np.full((30, 40, 3), 90, np.uint8))
    rc = cli.main(["predict", "pose2d", str(img), "--box", "-100,-50,-60,-10", "--out", str(tmp_path / "o"),
                   "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "lies outside the 40x30 image" in err and "expected one argument" not in err


# ------------------------------------------------------------------------------------------------ pose3d
def _coffee(tmp_path):
    import skimage.data

    return write_png(tmp_path / "coffee.png", skimage.data.coffee())


def test_pose3d_without_a_person_gives_no_pose(tmp_path, capsys):
    """A coffee cup and a 1x1 image: no person, no 3D pose; one line each, the batch goes on (exit status 1)."""
    cup = _coffee(tmp_path)
    dot = write_png(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    rc = cli.main(["predict", "pose3d", str(cup), str(dot), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    for p in (cup, dot):
        lines = [ln for ln in err.splitlines() if ln.strip().startswith(f"{p}: ")]
        assert len(lines) == 1 and "no person found" in lines[0], err
    assert not (tmp_path / "o" / "coffee_pose3d.json").exists()


def test_pose3d_refuses_a_box_outside_the_image_as_pose2d_does(tmp_path, capsys):
    cup = _coffee(tmp_path)
    for task in ("pose2d", "pose3d"):
        rc = cli.main(["predict", task, str(cup), "--box", "1000,1000,1200,1300", "--out", str(tmp_path / task),
                       "--quiet"])
        err = capsys.readouterr().err
        assert rc == 1 and "--box 1000,1000,1200,1300 lies outside the 600x400 image" in err, (task, err)


def test_pose3d_picture_size_is_bounded():
    from structnet.pose3d.writer import MAX_PHOTO_ASPECT, PANEL_GAP, draw_panel

    res = {"joints2d": np.zeros((17, 2)), "joints3d": np.zeros((17, 3))}
    wide = draw_panel(np.zeros((20, 5000, 3), np.uint8), res)
    assert wide.shape == (400, MAX_PHOTO_ASPECT * 400 + PANEL_GAP + 400, 3)
    normal = draw_panel(np.zeros((300, 200, 3), np.uint8), res)
    assert normal.shape == (400, 267 + PANEL_GAP + 400, 3)


# ------------------------------------------------------------------------------------------------ pose2d
def test_pose2d_says_when_joints_lie_outside_the_image(tmp_path, capsys):
    from structnet.pose2d.task import joints_outside

    assert joints_outside([[-741.0, 3.0], [5.0, 5.0], [np.nan, np.nan], [19.4, 4999.4]], (5000, 20)) == [0]
    strip = write_png(tmp_path / "strip.png", np.random.default_rng(0).integers(0, 255, (5000, 20, 3), np.uint8))
    rc = cli.main(["predict", "pose2d", str(strip), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    doc = __import__("json").loads((tmp_path / "o" / "strip_pose2d.json").read_text())
    n = sum(1 for j in doc["joints"] if j["x"] is not None and not (-0.5 <= j["x"] <= 19.5 and -0.5 <= j["y"] <= 4999.5))
    assert rc == 0 and n > 0 and f"{n} joint(s) placed outside the image" in out


# ------------------------------------------------------------------------------------------------ hypercolumn
def test_hypercolumn_keypoints_needs_a_box(tmp_path, capsys):
    img = write_png(tmp_path / "x.png", np.full((30, 40, 3), 90, np.uint8))
    rc = cli.main(["predict", "hypercolumn", str(img), "--task", "keypoints", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "--box" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["predict", "hypercolumn", str(img), "--task", "keypoints", "--box", "0,0,40,30", "--out",
                     str(tmp_path / "o"), "--quiet"]) == 0


# ------------------------------------------------------------------------------------------------ no task state
def test_extraction_training_pieces_come_together_and_the_task_keeps_no_state(monkeypatch):
    """The latent hook runs on the very loss the trainer gets, handed over by ``build_training`` (not stashed on the
    shared task object between slots)."""
    task = tasks.get("extraction")
    monkeypatch.setattr(type(task), "build_train_dataset", lambda self, cfg: "dataset")
    a, b = task.build_training(task.config_class()), task.build_training(task.config_class())
    assert a.dataset == "dataset" and len(a.hooks) == 1 and a.hooks[0].loss is a.loss
    assert b.hooks[0].loss is b.loss and b.loss is not a.loss
    for name in tasks.names():
        assert vars(tasks.get(name)) == {}, name
