"""``rxaudit average-weights`` (vision.training.average_weights): the uniform average of checkpoints
of one model, refused for anything else. The ONNX export is faked; the training extra is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from rxaudit.errors import ConfigError
from rxaudit.settings import MODELS_DIR

torch = pytest.importorskip("torch")
pytest.importorskip("ultralytics")
from vision import training  # noqa: E402

SHIPPED = MODELS_DIR / "counter-objects.pt"


@pytest.fixture(autouse=True)
def fake_export(monkeypatch):
    def export(weights: Path, out: Path, shape=training.EXPORT_SHAPE) -> Path:
        out.write_bytes(b"onnx of " + Path(weights).name.encode())
        return out
    monkeypatch.setattr(training, "export_onnx", export)


def load(path: Path):
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    return checkpoint, checkpoint["model"]


def variant(tmp_path: Path, name: str, *, shift: float = 0.0, names: dict | None = None, drop: bool = False) -> Path:
    """The shipped checkpoint with every float weight shifted, other class names, or a layer less."""
    checkpoint, model = load(SHIPPED)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(shift)
    if names is not None:
        model.names = names
    if drop:
        model.model = model.model[:-1]
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def test_the_average_lies_halfway(tmp_path):
    shifted = variant(tmp_path, "shifted.pt", shift=2.0)
    pt, onnx = training.average_weights([SHIPPED, shifted], tmp_path / "avg")
    assert onnx.read_bytes() == b"onnx of best.pt"
    _, base = load(SHIPPED)
    _, averaged = load(pt)
    base_state, averaged_state = base.state_dict(), averaged.state_dict()
    floats = [k for k, v in base_state.items() if v.is_floating_point()]
    assert floats and averaged.names == base.names
    for key in floats:
        assert torch.allclose(averaged_state[key].float(), base_state[key].float() + 1.0, atol=1e-2), key


def test_a_model_averaged_with_itself_is_itself(tmp_path):
    pt, _ = training.average_weights([SHIPPED, SHIPPED, SHIPPED], tmp_path / "avg")
    _, base = load(SHIPPED)
    _, averaged = load(pt)
    for key, value in base.state_dict().items():
        assert torch.equal(averaged.state_dict()[key], value), key


@pytest.mark.parametrize("make, message", [
    (lambda tmp: [SHIPPED], "at least two"),
    (lambda tmp: [SHIPPED, tmp / "missing.pt"], "does not exist"),
    (lambda tmp: [SHIPPED, variant(tmp, "names.pt", names={0: "a", 1: "b", 2: "c", 3: "d"})], "not the same model"),
    (lambda tmp: [SHIPPED, variant(tmp, "short.pt", drop=True)], "not the same model"),
])
def test_other_models_and_missing_files_are_refused(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message):
        training.average_weights(make(tmp_path), tmp_path / "avg")
    assert not (tmp_path / "avg" / "best.pt").exists()


def test_not_a_checkpoint_is_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    torch.save({"weights": [1, 2, 3]}, junk)
    with pytest.raises(ConfigError, match="no ultralytics model"):
        training.average_weights([SHIPPED, junk], tmp_path / "avg")


def test_cli_averages_and_refuses_one_checkpoint(tmp_path, capsys):
    assert main(["average-weights", str(SHIPPED), str(SHIPPED), "--out", str(tmp_path / "avg")]) == 0
    assert (tmp_path / "avg" / "best.pt").is_file() and "averaged 2 checkpoints" in capsys.readouterr().out
    assert main(["average-weights", str(SHIPPED), "--out", str(tmp_path / "one")]) == 3
    assert "at least two" in capsys.readouterr().err
