"""Engine: data keys, collate, the training loop, exact resume, checkpoints, logs, weights export."""
import csv
import json
import warnings

import pickle
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from _engine_toy import ToyDataset, make_net, toy_loss
from structnet.errors import UserError
from structnet.engine import (CheckpointError, HookBase, KeyBatchSampler, OptimConfig, ScheduleConfig,
                              TrainConfig, Trainer, collate_samples, load_checkpoint, load_latest_checkpoint)


class Recorder(HookBase):
    def __init__(self, stop_after=None):
        self.losses, self.stop_after = {}, stop_after

    def after_step(self, trainer, step, losses):
        self.losses[step] = dict(losses)
        if step == self.stop_after:
            raise KeyboardInterrupt(f"simulated kill after step {step}")


def _cfg(out, **kw):
    base = dict(max_iters=12, batch_size=4, out_dir=str(out), checkpoint_every=5, log_every=3,
                progress_bar=False, tensorboard=False, keep_checkpoints=0)
    base.update(kw)
    return TrainConfig(**base)


def _run(out, hooks=(), resume=True, net_seed=0, optim=None, sched=None, ds=None, loss=toy_loss, **kw):
    net = make_net(net_seed)
    tr = Trainer(net, loss, ds or ToyDataset(), _cfg(out, **kw), optim or OptimConfig(lr=0.05),
                 sched or ScheduleConfig(), hooks=hooks)
    tr.train(resume=resume)
    return tr


# ----------------------------------------------------------------------------------------------- sampler
def test_sampler_keys_are_permutations_with_derived_seeds():
    s = KeyBatchSampler(7, 3, seed=5)
    keys = [k for b in range(5) for k in s.batch_keys(b)]  # 15 positions: epochs 0, 1 and one of epoch 2
    idx = [i for i, _ in keys]
    assert sorted(idx[:7]) == list(range(7)) and sorted(idx[7:14]) == list(range(7))
    assert idx[:7] == list(np.random.default_rng([5, 0]).permutation(7))
    assert idx[:7] != idx[7:14]  # a new permutation each epoch
    assert keys[9][1] == int(np.random.SeedSequence([5, 1, 2]).generate_state(1)[0])  # position 9 = epoch 1, pos 2
    assert len({sd for _, sd in keys}) == 15
    # starting at micro-batch 3 yields exactly the tail of the stream (no skipped loading)
    assert list(KeyBatchSampler(7, 3, seed=5, start=3, stop=5)) == [keys[9:12], keys[12:15]]
    assert KeyBatchSampler(7, 3, seed=6).batch_keys(0) != s.batch_keys(0)


def test_sampler_shards_one_global_stream():
    one = KeyBatchSampler(10, 4, seed=1)
    r0 = KeyBatchSampler(10, 2, seed=1, rank=0, world_size=2)
    r1 = KeyBatchSampler(10, 2, seed=1, rank=1, world_size=2)
    for b in range(4):
        assert r0.batch_keys(b) + r1.batch_keys(b) == one.batch_keys(b)
    with pytest.raises(ValueError, match="empty"):
        KeyBatchSampler(0, 2)


# ----------------------------------------------------------------------------------------------- collate
def test_collate_stacks_and_keeps_ragged_items_as_lists():
    samples = [{"image": np.full((3, 4, 5), i, np.float32), "kp": np.zeros((i + 1, 2), np.float32),
                "name": f"s{i}", "label": i, "flag": np.bool_(i % 2), "meta": {"scale": np.float32(i)}}
               for i in range(3)]
    b = collate_samples(samples)
    assert b["image"].shape == (3, 3, 4, 5) and b["image"].dtype == torch.float32
    assert torch.equal(b["image"][:, 0, 0, 0], torch.tensor([0.0, 1.0, 2.0]))
    assert isinstance(b["kp"], list) and [t.shape[0] for t in b["kp"]] == [1, 2, 3]
    assert b["name"] == ["s0", "s1", "s2"]
    assert b["label"].dtype == torch.int64 and b["label"].tolist() == [0, 1, 2]
    assert b["flag"].dtype == torch.bool and b["meta"]["scale"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="different keys"):
        collate_samples([{"a": 1}, {"b": 1}])
    with pytest.raises(TypeError, match="dicts"):
        collate_samples([(1, 2)])


# ----------------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("mode, kw", [
    ("max_iters", dict(num_workers=0)),
    ("raise", dict(num_workers=0, iter_size=2, grad_clip=0.5)),
    ("raise", dict(num_workers=2)),
])
def test_resume_is_exact(tmp_path, mode, kw):
    optim = OptimConfig(name="adam", lr=0.02, lr_mult={"head": 2.0}) if "iter_size" in kw else OptimConfig(lr=0.05)
    sched = ScheduleConfig(name="poly", warmup_iters=3) if mode == "raise" else ScheduleConfig(name="step", step_size=4)
    a = Recorder()
    ta = _run(tmp_path / "a", [a], optim=optim, sched=sched, **kw)
    assert sorted(a.losses) == list(range(1, 13))

    b1 = Recorder(stop_after=5 if mode == "raise" else None)
    if mode == "raise":
        with pytest.raises(KeyboardInterrupt):
            _run(tmp_path / "b", [b1], optim=optim, sched=sched, **kw)
    else:
        _run(tmp_path / "b", [b1], optim=optim, sched=sched, **{**kw, "max_iters": 5})
    assert sorted(b1.losses) == [1, 2, 3, 4, 5]
    assert load_latest_checkpoint(tmp_path / "b")[1]["step"] == 5
    b2 = Recorder()
    tb = _run(tmp_path / "b", [b2], net_seed=99, optim=optim, sched=sched, **kw)  # other init: state must load
    assert tb.start_step == 5 and sorted(b2.losses) == list(range(6, 13))
    for step in range(1, 13):
        got = (b1.losses if step <= 5 else b2.losses)[step]
        assert got == a.losses[step], f"step {step}: {got} != {a.losses[step]}"
    for (n, p), (_, q) in zip(ta.model.named_parameters(), tb.model.named_parameters()):
        assert torch.equal(p, q), n
    # the sequence is not trivially reproducible: another seed gives other losses (augmentation + dropout)
    c = Recorder()
    _run(tmp_path / "c", [c], optim=optim, sched=sched, **{**kw, "seed": 1})
    assert c.losses[6] != a.losses[6]


def test_resume_from_explicit_path_and_corrupt_fallback(tmp_path):
    a = Recorder()
    ta = _run(tmp_path / "a", [a])
    out = tmp_path / "a"
    assert sorted(p.name for p in out.glob("ckpt_*.pt")) == ["ckpt_000005.pt", "ckpt_000010.pt", "ckpt_000012.pt"]
    assert (out / "last_checkpoint").read_text().strip() == "ckpt_000012.pt"
    # explicit path: continue from step 5 in a fresh dir
    r = Recorder()
    tr = _run(tmp_path / "r", [r], resume=out / "ckpt_000005.pt")
    assert tr.start_step == 5 and r.losses[12] == a.losses[12]
    # truncate the newest: resume falls back to step 10 with a warning naming the file
    data = (out / "ckpt_000012.pt").read_bytes()
    (out / "ckpt_000012.pt").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match=r"ckpt_000012\.pt is truncated/corrupt .*resuming from the older "
                                         r"ckpt_000010\.pt instead"):
        path, state = load_latest_checkpoint(out)
    assert path.name == "ckpt_000010.pt" and state["step"] == 10
    r2 = Recorder()
    with pytest.warns(UserWarning, match="resuming from the older"):
        tb = _run(out, [r2], net_seed=7)
    assert tb.start_step == 10 and r2.losses[12] == a.losses[12]
    assert all(torch.equal(p, q) for p, q in zip(ta.model.parameters(), tb.model.parameters()))
    # every checkpoint unreadable: one-line UserError naming the newest file and the fix
    for p in out.glob("ckpt_*.pt"):
        p.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match=r"a/ckpt_000012\.pt is truncated/corrupt \(not a checkpoint: Unsupported "
                                        r"operand 110\); delete it or use --no-resume$") as e:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _run(out)
    assert isinstance(e.value, CheckpointError) and "\n" not in str(e.value)
    (out / "ckpt_000012.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"ckpt_000012\.pt is truncated/corrupt \(0 bytes\); delete it"):
        load_checkpoint(out / "ckpt_000012.pt")
    with pytest.raises(CheckpointError, match="nope.pt not found; check the path, or use --no-resume"):
        load_checkpoint(tmp_path / "nope.pt")


def test_checkpoint_contents_pruning_and_no_temp_files(tmp_path):
    tr = _run(tmp_path, max_iters=9, checkpoint_every=2, keep_checkpoints=2)
    assert sorted(p.name for p in tmp_path.glob("ckpt_*.pt")) == ["ckpt_000008.pt", "ckpt_000009.pt"]
    assert not list(tmp_path.glob(".*tmp"))
    st = load_checkpoint(tmp_path / "ckpt_000009.pt")
    assert st["step"] == 9 and set(st["rng"][0]) == {"torch", "cuda", "numpy", "python"}
    assert st["config"]["train"]["max_iters"] == 9 and st["config"]["optim"]["lr"] == 0.05
    assert all(torch.equal(v, tr.model.state_dict()[k]) for k, v in st["model"].items())
    assert st["scheduler"]["last_epoch"] == 9 and len(st["optimizer"]["state"]) == 4
    assert (tmp_path / "config.yaml").is_file()
    # already at max_iters: nothing to do, nothing rewritten
    r = Recorder()
    _run(tmp_path, [r], max_iters=9)
    assert r.losses == {}


def test_csv_log_rows_and_no_duplicates_after_resume(tmp_path):
    sched = ScheduleConfig(name="step", step_size=4)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, [Recorder(stop_after=7)], log_every=3, sched=sched)  # logged 3, 6; checkpoint at 5
    _run(tmp_path, log_every=3, sched=sched)
    rows = list(csv.reader((tmp_path / "log.csv").open()))
    assert rows[0] == ["step", "lr", "total", "mse", "l1", "seconds"]
    assert [int(r[0]) for r in rows[1:]] == [3, 6, 9, 12]
    # the lr each logged step used: 0.05 for steps 1-4, x0.1 for steps 5-8, x0.01 for 9-12
    assert [float(r[1]) for r in rows[1:]] == pytest.approx([0.05, 0.005, 0.0005, 0.0005])
    for r in rows[1:]:
        assert float(r[2]) == pytest.approx(float(r[3]) + float(r[4]), rel=1e-4)


def test_nan_loss_stops_with_step_and_term(tmp_path):
    def loss(model, batch):
        terms = toy_loss(model, batch)
        nan_now = model.training and loss.calls == 4  # 4th micro-batch = step 4
        loss.calls += 1
        terms["bad"] = terms["mse"] * (float("nan") if nan_now else 0.0)
        return terms

    loss.calls = 1
    with pytest.raises(UserError, match=r"^non-finite loss at step 4: bad=nan; the model was not updated and the last "
                                        r"checkpoint \(.*ckpt_000003\.pt, step 3\) is kept, nothing was written over "
                                        r"it; lower optim\.lr .* check the data for NaN/Inf$") as e:
        _run(tmp_path, loss=loss, checkpoint_every=1)
    assert isinstance(e.value, FloatingPointError) and "\n" not in str(e.value)
    before = (tmp_path / "ckpt_000003.pt").read_bytes()
    assert (tmp_path / "last_checkpoint").read_text().strip() == "ckpt_000003.pt"
    assert not (tmp_path / "ckpt_000004.pt").exists()
    assert load_checkpoint(tmp_path / "ckpt_000003.pt")["step"] == 3
    # every non-finite term is named (here NaN and Inf together), before any checkpoint: none written
    def loss2(model, batch):
        terms = toy_loss(model, batch)
        return {**terms, "a": terms["mse"] * float("nan"), "b": terms["mse"] * float("inf"), "ok": terms["l1"]}

    with pytest.raises(UserError, match=r"step 1: a=nan, b=inf; the model was not updated and no checkpoint was "
                                        r"written; lower optim\.lr"):
        _run(tmp_path / "fresh", loss=loss2)
    assert not list((tmp_path / "fresh").glob("ckpt_*.pt"))
    assert (tmp_path / "ckpt_000003.pt").read_bytes() == before


def test_non_finite_gradient_stops_before_the_update(tmp_path):
    def loss(model, batch):  # finite value (0), NaN gradient (d sqrt(u) / du at u = 0)
        return {**toy_loss(model, batch), "edge": torch.sqrt((model.head.weight * 0).sum())}

    tr = Trainer(make_net(0), loss, ToyDataset(), _cfg(tmp_path), OptimConfig(lr=0.05))
    init = [p.detach().clone() for p in tr.model.parameters()]
    with pytest.raises(UserError, match="non-finite gradient norm at step 1 .*no checkpoint was written; lower optim.lr"):
        tr.train()
    assert tr.step == 0 and all(torch.equal(p, q) for p, q in zip(tr.model.parameters(), init))
    assert not list(tmp_path.glob("ckpt_*.pt"))


def test_bad_loss_fn_and_config_errors(tmp_path):
    with pytest.raises(TypeError, match="dict of named scalar"):
        _run(tmp_path, loss=lambda m, b: m(b["x"]).mean())
    with pytest.raises(ValueError, match="'total' is reserved"):
        _run(tmp_path, loss=lambda m, b: {"total": m(b["x"]).mean()})
    with pytest.raises(TypeError, match="term 'vec' must be a scalar"):
        _run(tmp_path, loss=lambda m, b: {"vec": m(b["x"])})
    with pytest.raises(ValueError, match="train.batch_size must be >= 1"):
        _run(tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="lr_mult: prefix 'fusee' matches no"):
        _run(tmp_path, optim=OptimConfig(lr_mult={"fusee": 5.0}))


def test_iter_size_accumulates_like_a_big_batch(tmp_path):
    net = lambda: make_net(0, p=0.0)  # noqa: E731  (no dropout: the two runs see the same function)
    cfg = dict(max_iters=3, checkpoint_every=0, progress_bar=False, tensorboard=False)
    t1 = Trainer(net(), toy_loss, ToyDataset(), TrainConfig(batch_size=4, out_dir=str(tmp_path / "1"), **cfg),
                 OptimConfig(lr=0.1, momentum=0.0))
    t2 = Trainer(net(), toy_loss, ToyDataset(), TrainConfig(batch_size=2, iter_size=2, out_dir=str(tmp_path / "2"),
                                                            **cfg), OptimConfig(lr=0.1, momentum=0.0))
    t1.train(False)
    t2.train(False)
    for p, q in zip(t1.model.parameters(), t2.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert not torch.equal(t1.model.head.weight, make_net(0).head.weight)  # it did train


def test_grad_clip_bounds_the_update(tmp_path):
    before = [p.detach().clone() for p in make_net(0).parameters()]
    tr = _run(tmp_path, max_iters=1, grad_clip=0.01, optim=OptimConfig(lr=1.0, momentum=0.0))
    step = torch.sqrt(sum(((p.detach() - q) ** 2).sum() for p, q in zip(tr.model.parameters(), before)))
    assert 0.0 < float(step) <= 0.01 + 1e-6


def test_eval_fn_runs_on_schedule_without_touching_training_rng(tmp_path):
    calls = []

    def eval_fn(model):
        calls.append(torch.rand(3).sum().item() + np.random.rand() + len(calls))  # draws from every RNG
        return {"score": float(len(calls))}

    a, b = Recorder(), Recorder()
    _run(tmp_path / "a", [a], max_iters=8)
    tr = Trainer(make_net(0), toy_loss, ToyDataset(), _cfg(tmp_path / "b", max_iters=8, eval_every=4),
                 OptimConfig(lr=0.05), hooks=[b], eval_fn=eval_fn)
    tr.train()
    assert len(calls) == 2 and tr.metrics == {"score": 2.0}
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert rows == [{"step": 4, "score": 1.0}, {"step": 8, "score": 2.0}]
    assert a.losses == b.losses and tr.model.training


def test_bfloat16_autocast_and_tensorboard(tmp_path):
    seen = []

    def loss(model, batch):
        seen.append(model.head(model.body(batch["x"])).dtype)
        return toy_loss(model, batch)

    _run(tmp_path, loss=loss, max_iters=2, precision="bfloat16", tensorboard=True, log_every=1)
    assert seen and set(seen) == {torch.bfloat16}
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


# ----------------------------------------------------------------------------------------------- user errors on resume
class _Evil:
    """Unpickling this runs code (it would create ``marker``): a crafted checkpoint."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_pickle_payload_checkpoint_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    out.mkdir()
    evil = {"format": "structnet-checkpoint-1", "step": 100, "model": {}, "optimizer": {}, "scheduler": {},
            "rng": [], "payload": _Evil(marker)}
    torch.save(evil, out / "ckpt_000100.pt")  # a torch zip file
    with pytest.raises(UserError, match=r"run/ckpt_000100\.pt holds pickled Python objects \(exec\) that "
                                        r"are not tensors or plain data: refused, not executed .*; delete it or use "
                                        r"--no-resume$") as e:
        _run(out)
    assert isinstance(e.value, CheckpointError) and "\n" not in str(e.value)
    with (out / "ckpt_000100.pt").open("wb") as f:  # a bare pickle stream (legacy torch.save format)
        pickle.dump(evil, f, protocol=2)
    with pytest.raises(CheckpointError, match="refused, not executed"):
        load_checkpoint(out / "ckpt_000100.pt")
    assert not marker.exists()
    # with an older good checkpoint next to it: a warning, and the good one is used
    _run(tmp_path / "good", max_iters=5)
    (tmp_path / "good" / "ckpt_000100.pt").write_bytes((out / "ckpt_000100.pt").read_bytes())
    (tmp_path / "good" / "last_checkpoint").write_text("ckpt_000100.pt\n")
    with pytest.warns(UserWarning, match=r"ckpt_000100\.pt holds pickled .*resuming from the older ckpt_000005\.pt"):
        path, state = load_latest_checkpoint(tmp_path / "good")
    assert path.name == "ckpt_000005.pt" and state["step"] == 5 and not marker.exists()


def test_checkpoint_contents_load_with_weights_only(tmp_path):
    tr = _run(tmp_path, max_iters=2, checkpoint_every=2, optim=OptimConfig(name="adam", lr=0.01, lr_mult={"head": 2}))
    st = torch.load(tmp_path / "ckpt_000002.pt", map_location="cpu", weights_only=True)  # the strict loader
    assert st["rng"][0]["python"][1][:3] == tuple(st["rng"][0]["python"][1][:3])
    assert len(st["optimizer"]["param_groups"]) == 2 and st["optimizer"]["state"]
    assert st["task"] is None and st["step"] == 2 and tr.last_checkpoint == tmp_path / "ckpt_000002.pt"


def test_garbage_last_checkpoint_pointer_is_ignored(tmp_path):
    _run(tmp_path, max_iters=5)
    (tmp_path / "last_checkpoint").write_bytes(b"\xff\xfe\x00garbage")
    path, state = load_latest_checkpoint(tmp_path)
    assert path.name == "ckpt_000005.pt" and state["step"] == 5


@dataclass
class ToyModelConfig:
    hidden: int = 16
    p: float = 0.3
    init: str = ""  # only chooses the starting weights: not compared on resume


@dataclass
class ToyConfig:
    model: ToyModelConfig = field(default_factory=ToyModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.05))


def _run_cfg(out, max_iters=4, task=None, resume=True, **model):
    cfg = ToyConfig(model=ToyModelConfig(**model), train=_cfg(out, max_iters=max_iters, checkpoint_every=2))
    net = make_net(0, hidden=cfg.model.hidden, p=cfg.model.p)
    tr = Trainer(net, toy_loss, ToyDataset(), cfg.train, cfg.optim, config=cfg, task=task)
    tr.train(resume=resume)
    return tr


def test_resume_into_a_run_of_another_model_or_task_is_refused(tmp_path):
    out = tmp_path / "run"
    tr = _run_cfg(out, max_iters=2)
    assert tr.task == "toy" and "hidden: 16" in (out / "config.yaml").read_text()
    assert load_checkpoint(out / "ckpt_000002.pt")["config"]["model"]["hidden"] == 16
    with pytest.raises(UserError, match=r"^out_dir .*run holds a run of model\.hidden=16 \(this run: 8\), model\.p=0\.3 "
                                        r"\(this run: 0\.0\); use another train\.out_dir or --no-resume$"):
        _run_cfg(out, hidden=8, p=0.0)
    with pytest.raises(UserError, match=r"holds a run of task 'toy' \(this run: 'other'\); use another"):
        _run_cfg(out, task="other")
    with pytest.raises(UserError, match=r"^checkpoint .*ckpt_000002\.pt holds a run of model\.hidden=16"):
        _run_cfg(tmp_path / "elsewhere", hidden=8, resume=out / "ckpt_000002.pt")
    assert sorted(p.name for p in out.glob("ckpt_*.pt")) == ["ckpt_000002.pt"]  # nothing lost
    # the same model with another init continues; --no-resume starts the other model afresh
    assert _run_cfg(out, init="other.safetensors").start_step == 2
    assert _run_cfg(out, hidden=8, resume=False).start_step == 0


def test_resume_state_dict_mismatch_is_one_line(tmp_path):
    _run(tmp_path, max_iters=2, checkpoint_every=2)  # config=None: no model section to compare
    net = make_net(0, hidden=8)
    tr = Trainer(net, toy_loss, ToyDataset(), _cfg(tmp_path, max_iters=4), OptimConfig(lr=0.05))
    with pytest.raises(UserError, match=r"^out_dir .* holds a run of another model \(.*ckpt_000002\.pt: shape mismatch "
                                        r"\(3\): body\.0\.weight \(16, 6\) vs \(8, 6\) in the model.*\); use another "
                                        r"train\.out_dir or --no-resume$") as e:
        tr.train()
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------------------------- precision, unwrap
def test_trainer_uses_the_one_precision_resolution(tmp_path, monkeypatch):
    import structnet.engine.trainer as trainer_mod
    import structnet.nn.precision as precision

    assert not hasattr(trainer_mod, "resolve_precision") or trainer_mod.resolve_precision is precision.resolve_precision

    def amp(prec):
        return Trainer(make_net(0), toy_loss, ToyDataset(), _cfg(tmp_path, precision=prec, device="cpu"),
                       OptimConfig(lr=0.05)).amp_dtype

    for fast, want in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: fast)  # AMX or AVX512-BF16, as inference
        assert amp("auto") is want and precision.resolve_precision("cpu", "auto") == (want or torch.float32)
    assert amp("float32") is None and amp("bfloat16") is torch.bfloat16
    with pytest.raises(UserError, match=r"^train\.precision='fp16': expected one of auto, float32, bfloat16$"):
        amp("fp16")


def test_trainer_unwraps_a_wrapped_model(tmp_path):
    net = make_net(0)
    tr = Trainer(torch.nn.DataParallel(net), toy_loss, ToyDataset(), _cfg(tmp_path, max_iters=1), OptimConfig(lr=0.05))
    assert tr.model is net
    tr.train(False)
    assert list(tr.model.state_dict()) == list(net.state_dict())  # no "module." prefix in checkpoints


def test_csv_log_is_rewritten_atomically_and_a_damaged_log_is_no_error(tmp_path, monkeypatch):
    import structnet.engine.logging as logging_mod

    sched = ScheduleConfig(name="step", step_size=4)
    _run(tmp_path, max_iters=5, log_every=3, sched=sched)
    written = []
    real = logging_mod.atomic_write
    monkeypatch.setattr(logging_mod, "atomic_write", lambda path, fn: written.append(path) or real(path, fn))
    _run(tmp_path, max_iters=7, log_every=3, sched=sched)  # resume at 5: the log is trimmed through atomic_write
    assert written == [tmp_path / "log.csv"] and not list(tmp_path.glob(".log.csv*"))
    rows = list(csv.reader((tmp_path / "log.csv").open()))
    assert [int(r[0]) for r in rows[1:]] == [3, 5, 6, 7]
    (tmp_path / "log.csv").write_bytes(b"\xff\xfe\x00 not utf-8\n6,\xff\n")
    with pytest.warns(UserWarning, match="starting a new header"):  # resumes at 7; the damaged rows are dropped
        tr = _run(tmp_path, max_iters=9, log_every=3, sched=sched)
    assert tr.start_step == 7 and "9," in (tmp_path / "log.csv").read_text()


def test_time_limit_stops_with_a_checkpoint_and_a_rerun_continues(tmp_path):
    tr = _run(tmp_path, time_limit=1e-9, checkpoint_every=0)  # past the limit after the first step
    assert tr.stopped_early and not tr.completed and tr.step == 1
    assert load_latest_checkpoint(tmp_path)[1]["step"] == 1
    tr2 = _run(tmp_path, time_limit=1e-9, checkpoint_every=0)  # each invocation gets its own budget
    assert tr2.start_step == 1 and tr2.step == 2 and tr2.stopped_early
    tr3 = _run(tmp_path, time_limit=3600.0)
    assert tr3.step == 12 and tr3.completed and not tr3.stopped_early
    with pytest.raises(ValueError, match="train.time_limit"):
        _run(tmp_path / "bad", time_limit=-1.0)
