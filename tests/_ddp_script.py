"""Two-process DDP smoke run for tests/test_engine_ddp.py (launched by torch.distributed.run, gloo on CPU).

usage: python -m torch.distributed.run --nproc_per_node 2 tests/_ddp_script.py OUT_DIR
Trains the toy task (no dropout) 4 steps at batch 2 per process and writes OUT_DIR/rank<r>.json with the
final parameters as lists, the world size and the mean loss each rank logged.
"""
import json
import sys
from pathlib import Path

import torch

from _engine_toy import ToyDataset, make_net, toy_loss
from structnet.engine import HookBase, OptimConfig, TrainConfig, Trainer
from structnet.engine import distributed as du


class Losses(HookBase):
    def __init__(self):
        self.seen = []

    def after_step(self, trainer, step, losses):
        self.seen.append(losses["total"])


def main(out: str) -> None:
    torch.set_num_threads(1)
    rec = Losses()
    cfg = TrainConfig(max_iters=4, batch_size=2, out_dir=str(Path(out) / "run"), checkpoint_every=2,
                      log_every=1, progress_bar=False, tensorboard=False, device="cpu")
    tr = Trainer(make_net(0, p=0.0), toy_loss, ToyDataset(), cfg, OptimConfig(lr=0.1, momentum=0.0), hooks=[rec])
    assert isinstance(tr.net, torch.nn.parallel.DistributedDataParallel), type(tr.net)
    tr.train(resume=False)
    params = {k: v.tolist() for k, v in tr.model.state_dict().items()}
    Path(out, f"rank{du.rank()}.json").write_text(json.dumps(
        {"world_size": du.world_size(), "params": params, "losses": rec.seen}))
    du.barrier()
    du.cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1])
