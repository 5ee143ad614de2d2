import torch

from skebm.nn import DistilledMixtureModel, EnergyNetwork, MixtureDensityNetwork, MLPExtractor


def make_student(target_dim=2):
    return MixtureDensityNetwork(MLPExtractor(3, (8,)), target_dim, n_components=4, hidden_size=8)


def test_mixture_network_outputs_normalised_mixtures_of_every_row():
    log_weights, means, log_stds = make_student()(torch.randn(5, 3))
    assert means.shape == log_stds.shape == (5, 4, 2)
    torch.testing.assert_close(log_weights.exp().sum(-1), torch.ones(5))


def test_mixture_network_trains_its_own_extractor():
    student = make_student()
    student(torch.randn(4, 3)).means.sum().backward()
    assert all(p.grad is not None for p in student.extractor.parameters())


def test_energy_network_scores_every_target_of_every_row():
    teacher = EnergyNetwork(MLPExtractor(3, (8,)), target_dim=2, hidden_size=8)
    assert teacher(torch.randn(3, 3), torch.randn(3, 7, 2)).shape == (3, 7)


def test_distilled_model_predicts_with_the_student_only():
    student = make_student()
    inputs = torch.randn(4, 3)
    for teacher in (None, EnergyNetwork(MLPExtractor(3, (8,)), target_dim=2, hidden_size=8)):
        model = DistilledMixtureModel(student, teacher)
        for got, expected in zip(model(inputs), student(inputs)):
            torch.testing.assert_close(got, expected)
    assert sum(p.numel() for p in DistilledMixtureModel(student, None).parameters()) == sum(
        p.numel() for p in student.parameters()
    )
