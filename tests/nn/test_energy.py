import pickle

import pytest
import torch

from skebm.nn import EnergyHead, EnergyModel, MLPExtractor, mixture_log_prob
from skebm.nn.extractors import build_extractor


def test_energy_head_scores_every_target_of_every_row():
    head = EnergyHead(feature_dim=5, target_dim=2, hidden_size=8)
    assert head(torch.randn(3, 5), torch.randn(3, 7, 2)).shape == (3, 7)


def test_per_row_projection_equals_scoring_each_pair_separately():
    head = EnergyHead(feature_dim=5, target_dim=1, hidden_size=8)
    features, targets = torch.randn(4, 5), torch.randn(4, 6, 1)
    batched = head(features, targets)
    pairwise = head(features.repeat_interleave(6, 0), targets.reshape(24, 1, 1)).reshape(4, 6)
    torch.testing.assert_close(batched, pairwise)


def test_mlp_extractor_maps_to_declared_feature_size():
    extractor = build_extractor("mlp", (3,), hidden_sizes=(16, 12))
    assert isinstance(extractor, MLPExtractor)
    assert extractor(torch.randn(2, 3)).shape == (2, extractor.out_features) == (2, 12)


def test_model_proposal_does_not_backpropagate_into_extractor():
    model = EnergyModel(MLPExtractor(2, (8,)), target_dim=1, n_components=2, hidden_size=8)
    features = model.features(torch.randn(4, 2))
    model.proposal(features).means.sum().backward()
    assert all(p.grad is None for p in model.extractor.parameters())
    assert any(p.grad is not None for p in model.proposal_head.parameters())


def test_energy_falls_without_bound_far_from_the_data():
    head = EnergyHead(feature_dim=3, target_dim=2, hidden_size=16)
    with torch.no_grad():
        for p in head.parameters():
            p.mul_(10.0)  # a steep network
    far = torch.tensor([[[1e4, 0.0], [0.0, -1e4], [1e6, 1e6]]])
    scores = head(torch.randn(1, 3), far)
    assert (scores < -1e5).all()


def test_shared_target_embedding_scores_like_per_row_targets():
    head = EnergyHead(feature_dim=4, target_dim=2, hidden_size=8)
    features, grid = torch.randn(3, 4), torch.randn(1, 5, 2)
    projected = head.project_inputs(features)
    shared = head.combine(projected, head.embed_targets(grid), grid)
    torch.testing.assert_close(shared, head(features, grid.expand(3, -1, -1)))


def test_energy_stays_finite_at_the_clipping_limit_with_the_narrowest_mixture():
    # Prediction clips standardised targets to 1e15 and the mixture's stds are at
    # least 1e-3, so its squared distances stay below float32's 3.4e38: a far
    # query gets a very negative energy, not -inf (which prediction refuses).
    head = EnergyHead(feature_dim=3, target_dim=2, hidden_size=8)
    mixture = head.base_mixture
    scales = mixture.output.bias.view(mixture.n_components, -1)[:, 1 + 2:]
    with torch.no_grad():
        scales.fill_(-1e3)  # softplus(-1e3) + 1e-3: the smallest std
    assert torch.allclose(mixture(torch.randn(1, 3)).log_stds.exp(), torch.tensor(1e-3))
    far = torch.tensor([[[1e15, -1e15], [-1e15, 1e15]]])
    scores = head(torch.randn(1, 3), far)
    assert torch.isfinite(scores).all() and (scores < -1e30).all()


def test_energy_is_the_base_mixture_when_the_network_is_silent():
    head = EnergyHead(feature_dim=4, target_dim=2, hidden_size=8, base_std=3.0)
    with torch.no_grad():
        head.joint_net[-1].weight.zero_()
        head.joint_net[-1].bias.zero_()
    features, targets = torch.randn(3, 4), torch.randn(3, 5, 2)
    mixture = mixture_log_prob(head.base_mixture(features), targets)
    expected = mixture - 0.5 * targets.square().sum(-1) / 9.0
    torch.testing.assert_close(head(features, targets), expected)


def test_base_mixture_is_trained_with_the_energy():
    head = EnergyHead(feature_dim=4, target_dim=1, hidden_size=8)
    head(torch.randn(3, 4), torch.randn(3, 5, 1)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in head.base_mixture.parameters())


def test_without_base_components_the_head_is_the_previous_one():
    torch.manual_seed(0)
    head = EnergyHead(feature_dim=4, target_dim=1, hidden_size=8, n_base_components=0)
    features, targets = torch.randn(3, 4), torch.randn(3, 5, 1)
    network = head.joint_net(head.embed_targets(targets) + head.input_projection(features)[:, None])
    expected = network.squeeze(-1) - 0.5 * targets.square().sum(-1) / 16.0
    torch.testing.assert_close(head(features, targets), expected)
    assert head.project_inputs(features).shape == (3, 8)


def test_a_head_pickled_before_the_mixture_term_loads_without_it():
    head = EnergyHead(feature_dim=4, target_dim=1, hidden_size=8, n_base_components=0)
    del head._modules["base_mixture"]  # how skebm 0.1.0 pickled its heads
    restored = pickle.loads(pickle.dumps(head))
    features, targets = torch.randn(3, 4), torch.randn(3, 5, 1)
    assert restored.base_mixture is None
    torch.testing.assert_close(restored(features, targets), head.joint_net(
        head.embed_targets(targets) + head.input_projection(features)[:, None]
    ).squeeze(-1) - targets.square().sum(-1) / 32.0)


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_a_bad_number_of_base_components_is_refused(count):
    with pytest.raises(ValueError, match="n_base_components"):
        EnergyHead(feature_dim=4, target_dim=1, hidden_size=8, n_base_components=count)
