"""The toy network: two convolutions to one logit per pixel."""
from torch import nn


class ToyNet(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.width = width
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 1, 1))

    def forward(self, x):
        return self.body(x)[:, 0]
