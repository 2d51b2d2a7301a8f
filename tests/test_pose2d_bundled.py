"""The bundled pose model on real LSPET val persons (skipped without ../shared/data): a golden value recorded when
the model was bundled (benchmarks/bundle_pose2d_model.py), so that any change of the inference path (cropping,
flip test, decoding, metrics) that moves the numbers shows up."""
import numpy as np
import pytest

from structnet.pose2d.config import Pose2DConfig
from structnet import hub
from structnet.keypoints.metrics import pck_torso
from structnet.pose2d.evaluate import evaluate_pose2d
from structnet.pose2d.data import build_eval_dataset

#: PCK@0.2 and AUC of each bundled pose model on the first 100 LSPET val persons (flip test on, float32, DARK
#: decoding) with the given person window (and person-box model for "auto"; None: the whole image first), measured
#: when it was bundled (964 joints scored). Full val set (1000 persons, benchmarks/results/): the hourglass 0.187
#: (annotated windows); the encoder 0.666 (annotated windows), 0.643 (whole images, --window auto with the person
#: model), 0.614 (--person-model none).
GOLDEN = {
    ("mss_msr_hourglass2_lsp", "annotation", None): (0.1566, 0.0566),
    ("mss_msr_efficientnet_lite0_lsp", "annotation", None): (0.6338, 0.3421),
    ("mss_msr_efficientnet_lite0_lsp", "auto", None): (0.5923, 0.3113),
    ("mss_msr_efficientnet_lite0_lsp", "auto", "person_box_lite0_lspet"): (0.6535, 0.3460),
}
GOLDEN_SCORED = 964


@pytest.mark.parametrize("name,window,person", sorted(GOLDEN, key=str), ids=lambda v: str(v))
def test_bundled_model_golden_pck_on_lspet_val(shared_data, name, window, person):
    from structnet.pose2d.task import load_person_model

    GOLDEN_PCK, GOLDEN_AUC = GOLDEN[(name, window, person)]
    cfg = Pose2DConfig()
    cfg.eval.dataset, cfg.eval.root, cfg.eval.split = "lspet", str(shared_data / "lspet"), "val"
    ds = build_eval_dataset(cfg, 100)
    net = hub.load(name, task="pose2d")
    r = evaluate_pose2d(net, ds, metric="pck", threshold=0.2, flip_test=True, precision="float32", window=window,
                        person=load_person_model(person))
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
