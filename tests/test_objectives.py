"""The training objectives, trained and checked with torch alone (no scikit-learn)."""

import math

import pytest
import torch

from skebm.nn import (
    DistilledMixtureModel,
    EnergyModel,
    EnergyNetwork,
    MixtureDensityNetwork,
    MLPExtractor,
)
from skebm.objectives import (
    distillation_objective,
    gaussian_noise_objective,
    learned_noise_objective,
    mixture_likelihood_objective,
)

SIGMAS = torch.tensor([[0.1], [0.8]])


def energy_model(seed=0):
    torch.manual_seed(seed)
    return EnergyModel(MLPExtractor(1, (32, 32)), target_dim=1, n_components=2, hidden_size=32)


def distilled_model(seed=0, teacher=True):
    torch.manual_seed(seed)
    student = MixtureDensityNetwork(MLPExtractor(1, (32, 32)), 1, 2, 32)
    return DistilledMixtureModel(
        student, EnergyNetwork(MLPExtractor(1, (32, 32)), 1, 32) if teacher else None)


CASES = {
    "learned noise": (energy_model, lambda m, b, g: learned_noise_objective(
        m, b, g, n_noise_samples=32), {"nce", "proposal_kl"}),
    "gaussian noise": (energy_model, lambda m, b, g: gaussian_noise_objective(
        m, b, g, n_noise_samples=32, sigmas=SIGMAS), {"nce", "proposal_kl"}),
    "distillation": (distilled_model, lambda m, b, g: distillation_objective(
        m, b, g, n_noise_samples=32, teacher_weight=0.5), {"nll", "nce", "distillation"}),
    "likelihood": (lambda: distilled_model(teacher=False), mixture_likelihood_objective, {"nll"}),
}


def linear_batch(n=256, seed=0):
    """y | x ~ N(2x, 0.3^2), x ~ U(-1, 1)."""
    generator = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 1, generator=generator) - 1
    return x, 2 * x + 0.3 * torch.randn(n, 1, generator=generator)


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_objective_gives_a_finite_scalar_and_its_named_parts(case):
    build, objective, parts_expected = CASES[case]
    loss, parts = objective(build(), linear_batch(16), torch.Generator().manual_seed(0))
    assert loss.shape == () and torch.isfinite(loss)
    assert set(parts) == parts_expected
    assert all(value.shape == () and torch.isfinite(value) for value in parts.values())


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_objective_is_a_function_of_model_batch_and_generator(case):
    build, objective, _ = CASES[case]
    model, batch = build(), linear_batch(16)
    first = objective(model, batch, torch.Generator().manual_seed(3))[0]
    again = objective(model, batch, torch.Generator().manual_seed(3))[0]
    assert torch.equal(first, again)


@pytest.mark.parametrize("case", ["learned noise", "gaussian noise"])
def test_nce_trains_extractor_and_energy_and_the_proposal_loss_trains_the_proposal(case):
    build, objective, _ = CASES[case]
    model = build()
    groups = {"extractor": model.extractor, "energy": model.energy_head,
              "proposal": model.proposal_head}
    gradients = {}
    for part in ("nce", "proposal_kl"):
        model.zero_grad(set_to_none=True)
        objective(model, linear_batch(16), torch.Generator().manual_seed(1))[1][part].backward()
        gradients[part] = {name: sum(float(p.grad.abs().sum()) for p in group.parameters()
                                     if p.grad is not None) for name, group in groups.items()}
    assert gradients["nce"]["extractor"] > 0 and gradients["nce"]["energy"] > 0
    assert gradients["nce"]["proposal"] == 0
    assert gradients["proposal_kl"]["proposal"] > 0
    assert gradients["proposal_kl"]["extractor"] == 0 and gradients["proposal_kl"]["energy"] == 0


def test_the_teacher_and_the_mixture_losses_train_disjoint_networks():
    model = distilled_model()
    for part, trained, untouched in (("nce", model.teacher, model.student),
                                     ("distillation", model.student, model.teacher)):
        model.zero_grad(set_to_none=True)
        _, parts = distillation_objective(model, linear_batch(16), torch.Generator(),
                                          n_noise_samples=8, teacher_weight=0.5)
        parts[part].backward()
        assert all(p.grad is None or not p.grad.any() for p in untouched.parameters())
        assert any(p.grad is not None and p.grad.any() for p in trained.parameters())


def train(model, objective, steps=400):
    """Adam on fresh minibatches of the linear problem, its step size decaying linearly to 0.

    The decay makes the last iterate settle near the optimum instead of
    wandering with the minibatch noise, so the tolerances below test the
    objective rather than where the noise left the parameters.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / steps)
    generator = torch.Generator().manual_seed(0)
    for step in range(steps):
        loss, _ = objective(model, linear_batch(64, seed=step), generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


def energy_moments(model, x):
    """Mean and std of exp f(x, .) normalised on a fine grid, for inputs ``x`` (n, 1)."""
    grid = torch.linspace(-6, 6, 2001)
    with torch.no_grad():
        energies = model.energy(model.features(x), grid.expand(len(x), -1).unsqueeze(-1))
    weights = torch.softmax(energies, dim=1)
    mean = (weights * grid).sum(1)
    return mean, ((weights * (grid - mean[:, None]) ** 2).sum(1)).sqrt()


def mixture_moments(mixture):
    weights, means = mixture.log_weights.exp(), mixture.means[..., 0]
    mean = (weights * means).sum(1)
    second = (weights * (mixture.log_stds[..., 0].exp() ** 2 + means**2)).sum(1)
    return mean, (second - mean**2).sqrt()


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_with_torch_alone_recovers_the_conditional_density(case):
    build, objective, _ = CASES[case]
    model = train(build(), objective)
    x = torch.tensor([[-0.8], [0.0], [0.8]])
    with torch.no_grad():
        if isinstance(model, EnergyModel):
            mean, std = energy_moments(model, x)
        else:
            mean, std = mixture_moments(model(x))
    torch.testing.assert_close(mean, 2 * x[:, 0], atol=0.08, rtol=0)
    torch.testing.assert_close(std, torch.full((3,), 0.3), atol=0.05, rtol=0)
    assert math.isfinite(float(std.sum()))
