"""`structnet demo` on the bundled model: runs offline and writes every output."""
import json

from structnet.cli import main
from structnet.skeleton.predict import BUNDLED, load_skeleton_model


def test_bundled_model_loads_with_metadata():
    net = load_skeleton_model()
    assert net.method == "lmsds" and net.backbone.__class__.__name__ == "EfficientNetLite0"
    assert 0 < net.threshold < 1
    assert BUNDLED["lmsds_efficientnet_lite0"].stat().st_size <= 20 * 1024 * 1024


def test_demo_writes_outputs(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    names = [r["image"] for r in summary["images"]]
    assert len(names) == 5
    for stem in ("astronaut", "chelsea", "coffee", "rocket", "horse"):
        for suffix in ("_skeleton.png", "_overlay.png", "_segments.png", ".npz"):
            assert (out / "skeleton" / f"{stem}{suffix}").is_file(), stem + suffix
    # the black-on-white horse silhouette is the easiest input: the model must find a skeleton on it
    horse = next(r for r in summary["images"] if r["image"].endswith("horse.png"))
    assert horse["skeleton_pixels"] > 50 and horse["segments"] >= 1
