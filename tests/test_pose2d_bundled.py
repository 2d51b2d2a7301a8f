"""The bundled pose model on real LSPET val persons (skipped without ../shared/data): a golden value recorded when
the model was bundled (benchmarks/bundle_pose2d_model.py), so that any change of the inference path (cropping,
flip test, decoding, metrics) that moves the numbers shows up."""
import numpy as np
import pytest

from structnet.pose2d.config import Pose2DConfig
from structnet.pose2d.inference import load_pose_model
from structnet.pose2d.metrics import pck_torso
from structnet.pose2d.evaluate import evaluate_pose2d
from structnet.pose2d.train import build_eval_dataset

#: PCK@0.2 and AUC of the bundled model on the first 100 LSPET val persons (flip test on, float32, DARK decoding),
#: measured when it was bundled; the full val set (1000 persons) gives 0.187 (benchmarks/results/).
GOLDEN_PCK, GOLDEN_AUC, GOLDEN_SCORED = 0.1566, 0.0566, 964


def test_bundled_model_golden_pck_on_lspet_val(shared_data):
    cfg = Pose2DConfig()
    cfg.eval.dataset, cfg.eval.root, cfg.eval.split = "lspet", str(shared_data / "lspet"), "val"
    ds = build_eval_dataset(cfg, 100)
    net = load_pose_model()
    r = evaluate_pose2d(net, ds, metric="pck", threshold=0.2, flip_test=True, precision="float32")
    assert r["n_persons"] == 100 and r["n_scored"] == GOLDEN_SCORED
    # 0.01 = about 10 of the 964 scored joints: room for float differences across CPUs, not for a real change
    assert r["mean"] == pytest.approx(GOLDEN_PCK, abs=0.01)
    assert r["auc"] == pytest.approx(GOLDEN_AUC, abs=0.01)
    # and better than a trivial guess: every joint at the person window's centre
    recs = ds.records[:100]
    gt = np.stack([rec.keypoints for rec in recs]).astype(float)
    vis = np.stack([rec.annotated for rec in recs])
    guess = np.repeat(np.stack([rec.center for rec in recs]).astype(float)[:, None], gt.shape[1], axis=1)
    _, centre_pck = pck_torso(guess, gt, vis, 0.2, layout="lsp14")
    assert r["mean"] > centre_pck + 0.05, (r["mean"], centre_pck)
