import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from skebm.nn import MixtureDensityHead, MixtureParameters, mixture_log_prob, sample_mixture
from skebm.nn.mixture import fixed_gaussian_noise, samples_from_base_draws


def random_mixture(batch=3, k=4, d=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, k, generator=generator)
    return MixtureParameters(
        torch.log_softmax(logits, -1),
        torch.randn(batch, k, d, generator=generator, dtype=torch.float32),
        0.3 * torch.randn(batch, k, d, generator=generator),
    )


def test_mixture_log_prob_matches_scipy():
    params = random_mixture()
    targets = torch.randn(3, 5, 2)
    got = mixture_log_prob(params, targets).numpy()
    w, mu, sd = (np.exp(params.log_weights.numpy()), params.means.numpy(),
                 np.exp(params.log_stds.numpy()))
    y = targets.numpy()
    expected = np.log(np.einsum(
        "bk,bmk->bm", w,
        np.prod(norm.pdf(y[:, :, None, :], mu[:, None], sd[:, None]), axis=-1)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_mixture_log_prob_is_finite_far_in_the_tails():
    params = random_mixture(d=1)
    assert torch.isfinite(mixture_log_prob(params, torch.full((3, 2, 1), 1e3))).all()


def test_sample_mixture_matches_mixture_moments():
    params = random_mixture(batch=2, k=3, d=1)
    generator = torch.Generator().manual_seed(1)
    samples = sample_mixture(params, 200_000, generator)
    w = torch.exp(params.log_weights)
    mean = (w * params.means[..., 0]).sum(-1)
    second = (w * (params.means[..., 0] ** 2 + torch.exp(2 * params.log_stds[..., 0]))).sum(-1)
    torch.testing.assert_close(samples[..., 0].mean(1), mean, atol=0.01, rtol=0)
    torch.testing.assert_close(samples[..., 0].var(1), second - mean**2, atol=0.02, rtol=0.01)


def test_samples_carry_no_gradient():
    params = random_mixture()
    params = MixtureParameters(*(p.clone().requires_grad_(True) for p in params))
    samples = sample_mixture(params, 5)
    assert samples.shape == (3, 5, 2)
    assert not samples.requires_grad


def test_shared_base_draws_broadcast_over_rows():
    params = random_mixture(batch=4)
    uniforms, normals = torch.rand(7), torch.randn(7, 2)
    samples = samples_from_base_draws(params, uniforms, normals)
    assert samples.shape == (4, 7, 2)
    first_row = MixtureParameters(*(p[:1] for p in params))
    torch.testing.assert_close(samples_from_base_draws(first_row, uniforms, normals), samples[:1])


def test_fixed_gaussian_noise_is_equal_weight_mixture_centred_on_targets():
    centers = torch.tensor([[0.5], [-1.0]])
    sigmas = torch.tensor([[0.1], [0.8]])
    params = fixed_gaussian_noise(centers, sigmas)
    y = torch.tensor([[[0.7]], [[-1.0]]])
    got = mixture_log_prob(params, y)[:, 0].numpy()
    expected = [math.log(0.5 * norm.pdf(0.7, 0.5, 0.1) + 0.5 * norm.pdf(0.7, 0.5, 0.8)),
                math.log(0.5 * norm.pdf(0.0, 0, 0.1) + 0.5 * norm.pdf(0.0, 0, 0.8))]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("k, d", [(1, 1), (4, 3)])
def test_head_starts_broad_with_uniform_weights(k, d):
    head = MixtureDensityHead(feature_dim=8, target_dim=d, n_components=k, hidden_size=16)
    params = head(torch.zeros(5, 8))
    assert params.means.shape == (5, k, d)
    torch.testing.assert_close(torch.exp(params.log_weights), torch.full((5, k), 1.0 / k),
                               atol=0.1, rtol=0)
    torch.testing.assert_close(torch.exp(params.log_stds), torch.ones(5, k, d), atol=0.2, rtol=0)
    assert params.means[0, :, 0].max() - params.means[0, :, 0].min() >= (1.5 if k > 1 else 0)


def test_head_respects_std_floor():
    head = MixtureDensityHead(4, 1, 2, 8, min_std=0.05)
    with torch.no_grad():
        head.output.bias.fill_(-100.0)
    assert torch.exp(head(torch.zeros(3, 4)).log_stds).min() >= 0.05 - 1e-6


def test_head_builds_its_mixtures_from_its_raw_outputs():
    head = MixtureDensityHead(feature_dim=6, target_dim=2, n_components=3, hidden_size=8)
    features = torch.randn(4, 6)
    raw = head.raw_outputs(features)
    assert raw.shape == (4, head.n_raw_outputs) == (4, 3 * (1 + 2 * 2))
    for built, direct in zip(head.mixture_from_raw(raw), head(features)):
        torch.testing.assert_close(built, direct)
