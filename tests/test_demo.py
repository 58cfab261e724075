"""`microgrador demo` (README's main job): it runs offline, prints numbers that match
computations done here independently, trains to better than chance, and fails loudly
when a derivative does not match its hand computation."""
import math
import re

from microgrador import scalar_net
from microgrador.cli import main


def test_quick_demo_prints_checked_numbers(capsys):
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "gradcheck against central differences: passed" in out
    # y = tanh(x w + b) at (1, -2, 0.5): dy/dw = (1 - tanh(-1.5)^2) * 1
    engine = float(re.search(r"\(engine: (-?[\d.]+)\)", out).group(1))
    assert engine == round(1 - math.tanh(-1.5) ** 2, 6)
    loss = float(re.search(r"loss = ([\d.]+)   \(by hand", out).group(1))
    assert loss == math.log(2)
    assert "all equal to the hand computation: yes" in out
    accuracies = [float(a) for a in re.findall(r"validation accuracy ([\d.]+)%", out)]
    assert len(accuracies) == 2
    chance = float(re.search(r"commonest digit would score ([\d.]+)%", out).group(1))
    assert 5 < chance < 20
    assert accuracies[1] > 3 * chance          # MNIST after 300 images: far above chance


def test_demo_fails_when_a_gradient_is_wrong(capsys, monkeypatch):
    real_run = scalar_net.run

    def wrong_run(*args, **kwargs):
        numbers = real_run(*args, **kwargs)
        numbers["dc"] = [-0.5, 0.25]
        return numbers
    monkeypatch.setattr(scalar_net, "run", wrong_run)
    assert main(["demo", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "all equal to the hand computation: NO" in out
    assert "differs from its hand computation" in out
