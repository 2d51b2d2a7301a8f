"""Engine under torchrun: 2 CPU processes (gloo) train the toy task; ranks agree and rank 0 checkpoints."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from _engine_toy import ToyDataset, make_net, toy_loss
from structnet.engine import OptimConfig, TrainConfig, Trainer, load_checkpoint

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available in this build")
def test_two_process_ddp_matches_one_process_with_the_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(HERE), str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    # one retry: the free port can be taken by another process between _free_port() and torchrun's bind, and a
    # 2-process start-up on a loaded 2-core machine has failed once in many runs; a real bug fails both times
    failures = []
    for attempt in range(2):
        out = tmp_path / f"attempt{attempt}"
        out.mkdir()
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), str(HERE / "_ddp_script.py"), str(out)]
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired as e:
            failures.append(f"attempt {attempt}: timed out after {e.timeout} s")
            continue
        if r.returncode == 0:
            break
        failures.append(f"attempt {attempt}: torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    assert len(failures) < 2, "\n".join(failures)
    tmp_path = out
    res = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert res[0]["world_size"] == res[1]["world_size"] == 2
    assert res[0]["params"] == res[1]["params"]  # DDP kept the replicas identical
    assert res[0]["losses"] == res[1]["losses"] and len(res[0]["losses"]) == 4  # logged means agree
    run = tmp_path / "run"
    assert sorted(p.name for p in run.glob("ckpt_*.pt")) == ["ckpt_000002.pt", "ckpt_000004.pt"]
    st = load_checkpoint(run / "ckpt_000004.pt")
    assert st["step"] == 4 and len(st["rng"]) == 2 and st["data"]["world_size"] == 2
    assert (run / "log.csv").read_text().count("\n") == 5  # header + 4 rows, written once (rank 0)
    # 2 processes x batch 2 share one global stream: same updates as 1 process at batch 4
    cfg = TrainConfig(max_iters=4, batch_size=4, out_dir=str(tmp_path / "single"), checkpoint_every=0,
                      progress_bar=False, tensorboard=False)
    single = Trainer(make_net(0, p=0.0), toy_loss, ToyDataset(), cfg, OptimConfig(lr=0.1, momentum=0.0))
    single.train(resume=False)
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(torch.tensor(res[0]["params"][k]), v, rtol=1e-5, atol=1e-6)


def test_half_set_torchrun_environment_is_a_user_error(monkeypatch):
    from structnet.engine.distributed import init_distributed
    from structnet.errors import UserError

    if dist.is_available() and dist.is_initialized():
        pytest.skip("a process group is already initialised")
    for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match=r"^WORLD_SIZE=2 but RANK is not set: launch with torchrun, or unset WORLD_SIZE$"):
        init_distributed()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(UserError, match=r"^environment variable WORLD_SIZE='two' is not an integer"):
        init_distributed()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert init_distributed() is False
