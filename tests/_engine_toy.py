"""Toy task for the engine tests (also imported by tests/_ddp_script.py under torchrun).

The dataset follows the key convention: ``ds[(index, seed)]`` is a pure function of its key (random
augmentation from ``default_rng(seed)``); the model has dropout, so exact resume needs the RNG states too.
"""
import numpy as np
import torch
from torch import nn


class ToyDataset:
    def __init__(self, n: int = 20, dim: int = 6):
        rng = np.random.default_rng(123)
        self.x = rng.normal(size=(n, dim)).astype(np.float32)
        self.w = rng.normal(size=dim).astype(np.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        x = self.x[index].copy()
        if seed is not None:  # augmentation: noise and a random sign flip
            rng = np.random.default_rng(seed)
            x = x + rng.normal(scale=0.1, size=x.shape).astype(np.float32)
            x = x * rng.choice(np.float32([-1, 1]))
        return {"x": x, "y": np.float32(np.tanh(x @ self.w)), "index": index}


class ToyNet(nn.Module):
    def __init__(self, dim: int = 6, hidden: int = 16, p: float = 0.3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(p))
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.head(self.body(x))[:, 0]


def make_net(seed: int = 0, **kw) -> ToyNet:
    torch.manual_seed(seed)
    return ToyNet(**kw)


def toy_loss(model, batch):
    pred = model(batch["x"])
    err = pred.float() - batch["y"]
    return {"mse": (err ** 2).mean(), "l1": 0.1 * err.abs().mean()}
