"""Golden numbers of the bundled extraction model on real data (skipped without ../shared/data): ECSSD's first 40
images through `structnet eval extraction` (the code path of predict; float32, as `auto` is on CPUs without native
bfloat16: with bfloat16 the numbers move by ~0.001), and the model's size and metadata.
Tolerances leave room for float differences across CPUs, not for a real change."""
from __future__ import annotations

import json

import pytest

from structnet import hub
from structnet.cli import main


def test_bundled_extraction_model_loads_and_is_small():
    m = hub.load("extraction_joint_duts", task="extraction")
    cfg = m.network.config()
    assert cfg["arch"] == "lite" and cfg["mask_size"] == 50
    assert m.source.stat().st_size <= 20 * 1024 * 1024
    assert m.metadata["latent_search"] == "mcmc"
    assert 0.6 < float(m.metadata["test_j"]) < 0.9


def test_bundled_extraction_golden_ecssd(shared_data, tmp_path):
    out = tmp_path / "ecssd.json"
    assert main(["eval", "extraction", "--data", str(shared_data / "ecssd"), "--max-images", "40", "--threads", "2",
                 "--precision", "float32", "--quiet", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["n_images"] == 40 and not r["failed"]
    assert r["j"] == pytest.approx(0.6925, abs=0.005)        # all 1000 ECSSD images: 0.706 (README)
    assert r["p"] > 0.85 and 0 < r["mae"] < 0.2
