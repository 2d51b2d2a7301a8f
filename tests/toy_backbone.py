"""A tiny backbone of the feature contract, for fast tests of heads and tasks."""
import torch
from torch import nn

from structnet.backbones.base import Backbone, FeatureSpec


class ToyBackbone(Backbone):
    """Three taps at strides 1, 2, 4 (fields 5, 14, 32 -- typed in here because this is a test double)."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.b2 = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.feature_specs = [FeatureSpec("t1", width, 1, 5), FeatureSpec("t2", width, 2, 14), FeatureSpec("t3", width, 4, 32)]

    def forward(self, x):
        a = self.b1(x)
        b = self.b2(a)
        c = self.b3(b)
        return {"t1": a, "t2": b, "t3": c}
