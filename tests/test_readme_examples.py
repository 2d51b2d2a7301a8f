"""The README's Python examples run as written (bundled models, a demo photo as photo.jpg) and give what the CLI
gives with the same defaults."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.fixture
def photo_dir(tmp_path, monkeypatch):
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "photo.jpg", quality=95)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_python_examples():
    assert _python_blocks()


@pytest.mark.parametrize("i", range(len(_python_blocks())))
def test_readme_python_example_runs(i, photo_dir):
    exec(compile(_python_blocks()[i], f"README.md python block {i + 1}", "exec"), {"__name__": "readme"})


def test_readme_skeleton_example_equals_the_cli(photo_dir, capsys):
    """The skeleton example uses the model's stored max side, scales and flip, as ``structnet predict`` does."""
    from structnet.cli import main

    block = next(b for b in _python_blocks() if "lmsds_efficientnet_lite0" in b)
    ns = {"__name__": "readme"}
    exec(compile(block, "README.md skeleton example", "exec"), ns)
    assert main(["predict", "skeleton", "photo.jpg", "--out", "out"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert f"photo.jpg: {ns['res']['skeleton_pixels']} skeleton px," in line, line
