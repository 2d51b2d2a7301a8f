"""The toy task in the task contract: every slot filled from the modules of this folder."""
from pathlib import Path

import numpy as np
import torch
from torch import nn

from structnet.data.io import write_png
from structnet.tasks import Task
from structnet.tasks.loading import LoadedModel

from .config import ToyConfig, ToyPredictOptions
from .data import ToyDataset
from .metrics import IoUEvaluator
from .model import ToyNet


def _run(net, image_chw: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(image_chw)[None]))[0].numpy()


class ToyTask(Task):
    name = "toy"
    summary = "bright-square masks (a test task)"
    config_class = ToyConfig
    predict_options = ToyPredictOptions
    outputs = "<name>_toy_mask.png per image"
    output_suffixes = ("_toy_mask.png",)

    def build_model(self, cfg):
        return ToyNet(cfg.model.width)

    def model_metadata(self, cfg, net):
        return {"model_config": {"width": net.width}}

    def model_from_metadata(self, meta, path):
        from structnet.nn.weights import load_weights

        net = ToyNet(int(meta["model_config"]["width"]))
        load_weights(net, path)
        return LoadedModel(network=net, task=self.name, name=Path(path).stem, source=Path(path))

    def build_train_dataset(self, cfg):
        return ToyDataset(cfg.data.n, cfg.data.size, cfg.data.seed)

    def build_loss(self, cfg):
        def loss_fn(model, batch):
            return {"bce": nn.functional.binary_cross_entropy_with_logits(model(batch["image"]), batch["mask"])}

        return loss_fn

    def build_eval_dataset(self, cfg, max_images=None):
        return ToyDataset(cfg.eval.n, cfg.data.size, cfg.eval.seed)

    def eval_predictor(self, model, cfg):
        return lambda s: _run(model.network, s["image"])

    def build_evaluator(self, cfg, model=None):
        return IoUEvaluator(cfg.eval.threshold)

    def predictor(self, model, options=None):
        options = self.options_or_defaults(options)

        def fn(image):
            prob = _run(model.network, image.transpose(2, 0, 1).astype(np.float32) / 255.0)
            return {"mask": prob >= options.threshold}

        return fn

    def write(self, result, image, out_dir, name, source=None, options=None):
        return [write_png(Path(out_dir) / f"{name}_toy_mask.png", result["mask"])]

    def describe(self, result):
        return f"{int(result['mask'].sum())} mask px"


TASK = ToyTask()
