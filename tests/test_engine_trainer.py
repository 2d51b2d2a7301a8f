"""Engine: data keys, collate, the training loop, exact resume, checkpoints, logs, weights export."""
import csv
import json
import warnings

import numpy as np
import pytest
import torch

from _engine_toy import ToyDataset, make_net, toy_loss
from structnet.engine import (CheckpointError, HookBase, KeyBatchSampler, OptimConfig, ScheduleConfig,
                              TrainConfig, Trainer, collate_samples, export_weights, load_checkpoint,
                              load_latest_checkpoint, load_weights, read_weights_metadata)


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
    with pytest.warns(UserWarning, match=r"ckpt_000012\.pt: corrupt or truncated checkpoint.*falling back"):
        path, state = load_latest_checkpoint(out)
    assert path.name == "ckpt_000010.pt" and state["step"] == 10
    r2 = Recorder()
    with pytest.warns(UserWarning, match="falling back"):
        tb = _run(out, [r2], net_seed=7)
    assert tb.start_step == 10 and r2.losses[12] == a.losses[12]
    assert all(torch.equal(p, q) for p, q in zip(ta.model.parameters(), tb.model.parameters()))
    # every checkpoint unreadable: one-line error naming the newest file
    for p in out.glob("ckpt_*.pt"):
        p.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"ckpt_000012\.pt: corrupt") as e:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _run(out)
    assert "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="not found"):
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
    with pytest.raises(FloatingPointError, match=r"step 4: term 'bad' = nan.*last saved: step 3"):
        _run(tmp_path, loss=loss, checkpoint_every=1)
    assert (tmp_path / "last_checkpoint").read_text().strip() == "ckpt_000003.pt"
    assert not (tmp_path / "ckpt_000004.pt").exists()
    assert load_checkpoint(tmp_path / "ckpt_000003.pt")["step"] == 3


def test_non_finite_gradient_stops_before_the_update(tmp_path):
    def loss(model, batch):  # finite value (0), NaN gradient (d sqrt(u) / du at u = 0)
        return {**toy_loss(model, batch), "edge": torch.sqrt((model.head.weight * 0).sum())}

    tr = Trainer(make_net(0), loss, ToyDataset(), _cfg(tmp_path), OptimConfig(lr=0.05))
    init = [p.detach().clone() for p in tr.model.parameters()]
    with pytest.raises(FloatingPointError, match="non-finite gradient norm at step 1"):
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


def test_export_and_load_weights(tmp_path):
    net = make_net(3)
    path = export_weights(net, tmp_path / "w" / "model.safetensors",
                          {"task": "toy", "config": {"hidden": 16}, "metrics": {"f": 0.5}})
    meta = read_weights_metadata(path)
    assert meta["task"] == "toy" and json.loads(meta["config"]) == {"hidden": 16}
    assert read_weights_metadata(path, decode=True)["metrics"] == {"f": 0.5}
    other = make_net(4)
    assert load_weights(other, path)["task"] == "toy"
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), other.parameters()))
    extra = make_net(0)
    extra.extra = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"missing \(2\): extra\.weight, extra\.bias"):
        load_weights(extra, path)
    with pytest.raises(ValueError, match=r"unexpected \(4\): body\.0\.bias, body\.0\.weight, head"):
        load_weights(torch.nn.Sequential(), path)
    bigger = make_net(0, hidden=8)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_weights(bigger, path)
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_weights(make_net(0), tmp_path / "bad.safetensors")
