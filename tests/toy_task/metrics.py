"""Mask IoU over a dataset, as an Evaluator."""
from structnet.tasks import Evaluator


class IoUEvaluator(Evaluator):
    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold
        self.reset()

    def reset(self):
        self.inter = self.union = self.n = 0

    def process(self, sample, prediction):
        gt, pred = sample["mask"] > 0.5, prediction >= self.threshold
        self.inter += int((gt & pred).sum())
        self.union += int((gt | pred).sum())
        self.n += 1

    def summarize(self):
        return {"n": self.n, "iou": self.inter / max(self.union, 1)}

    def format(self, s):
        return f"IoU {s['iou']:.3f} over {s['n']} images"
