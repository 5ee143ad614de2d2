"""Feature extractors: the small CNN, ResNet-18, weight loading and the user protocol."""

import pytest
import torch
from torch import nn

from skebm.nn import ConvExtractor, MLPExtractor, ResNet18Extractor, load_resnet_weights
from skebm.nn.conv import BatchNorm2d
from skebm.nn.extractors import build_extractor, feature_size

# ResNet-18 of He et al. (2016) without its 1000-way classifier, for RGB input.
RESNET18_PARAMETERS_WITHOUT_CLASSIFIER = 11_176_512


# ---------------------------------------------------------------- small CNN
@pytest.mark.parametrize("size", [1, 4, 7, 16, 28])
@pytest.mark.parametrize("channels", [1, 3])
def test_cnn_maps_any_image_size_to_its_feature_size(size, channels):
    extractor = ConvExtractor(in_channels=channels)
    assert extractor(torch.randn(2, channels, size, size)).shape == (2, extractor.out_features)


def test_cnn_feature_size_is_the_last_stage_width():
    assert ConvExtractor(in_channels=1, channels=(4, 8, 24)).out_features == 24


def test_cnn_needs_at_least_one_stage():
    with pytest.raises(ValueError, match="channels"):
        ConvExtractor(in_channels=1, channels=())


@pytest.mark.parametrize("build, error, message", [
    (lambda: MLPExtractor(4, hidden_sizes=(-3,)), ValueError, r"hidden_sizes\[0\].*-3"),
    (lambda: MLPExtractor(4, hidden_sizes=(8, 0)), ValueError, r"hidden_sizes\[1\].*0"),
    (lambda: MLPExtractor(4, hidden_sizes=(8.5,)), TypeError, r"hidden_sizes\[0\]"),
    (lambda: MLPExtractor(4, hidden_sizes=(True,)), TypeError, r"hidden_sizes\[0\]"),
    (lambda: MLPExtractor(4, hidden_sizes=64), TypeError, "sequence of layer widths"),
    (lambda: MLPExtractor(4, hidden_sizes=()), ValueError, "at least one layer"),
    (lambda: MLPExtractor(0), ValueError, "in_features"),
    (lambda: ConvExtractor(in_channels=1, channels=(4, -8)), ValueError, r"channels\[1\]"),
    (lambda: ConvExtractor(in_channels=0), ValueError, "in_channels"),
    (lambda: ResNet18Extractor(in_channels=-1), ValueError, "in_channels"),
    (lambda: ResNet18Extractor(in_channels=2.0), TypeError, "in_channels"),
], ids=["mlp negative", "mlp zero", "mlp float", "mlp bool", "mlp int", "mlp empty",
        "mlp no inputs", "cnn negative", "cnn no channels", "resnet negative", "resnet float"])
def test_bad_sizes_of_the_built_in_extractors_are_named(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_cnn_trains_every_parameter():
    extractor = ConvExtractor(in_channels=2, channels=(4, 8))
    extractor(torch.randn(3, 2, 8, 8)).sum().backward()
    assert all(p.grad is not None and torch.any(p.grad != 0) for p in extractor.parameters())


# ---------------------------------------------------------------- ResNet-18
def test_resnet18_has_the_published_number_of_parameters():
    count = sum(p.numel() for p in ResNet18Extractor(in_channels=3).parameters())
    assert count == RESNET18_PARAMETERS_WITHOUT_CLASSIFIER


def test_resnet18_halves_resolution_per_stage_and_returns_512_features():
    model = ResNet18Extractor(in_channels=1)
    shapes = {}

    def record(name):
        def hook(_module, _inputs, output):
            shapes[name] = output.shape
        return hook

    for name in ("layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(record(name))
    features = model.eval()(torch.randn(2, 1, 64, 64))
    assert features.shape == (2, 512) and model.out_features == 512
    assert [shapes[f"layer{i}"][1:] for i in range(1, 5)] == [
        (64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]


def test_resnet18_projection_shortcuts_only_where_the_shape_changes():
    model = ResNet18Extractor()
    with_projection = [name for name, module in model.named_modules()
                       if name.endswith("downsample")]
    assert with_projection == ["layer2.0.downsample", "layer3.0.downsample",
                               "layer4.0.downsample"]


def test_resnet18_trains_on_a_single_small_image():
    # The last stage sees a 1x1 map: plain batch norm would refuse a batch of one.
    model = ResNet18Extractor(in_channels=1).train()
    model(torch.randn(1, 1, 8, 8)).sum().backward()
    assert model.conv1.weight.grad is not None


def test_batch_norm_of_a_single_value_uses_running_statistics_and_keeps_them():
    norm = BatchNorm2d(3).train()
    norm.running_mean.fill_(1.0)
    norm.running_var.fill_(4.0)
    output = norm(torch.full((1, 3, 1, 1), 5.0))
    torch.testing.assert_close(output, torch.full((1, 3, 1, 1), 2.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(norm.running_mean, torch.ones(3))


def test_resnet18_weights_load_from_a_file_and_reproduce_the_network(tmp_path):
    source = ResNet18Extractor(in_channels=3).eval()
    path = tmp_path / "resnet18.pt"
    torch.save(source.state_dict(), path)
    loaded = ResNet18Extractor(in_channels=3, weights=path).eval()
    images = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded(images), source(images))


def test_resnet18_weights_tolerate_wrappers_prefixes_and_a_classifier():
    source = ResNet18Extractor(in_channels=3)
    state = {f"module.{key}": value for key, value in source.state_dict().items()}
    state["module.fc.weight"] = torch.zeros(1000, 512)
    target = ResNet18Extractor(in_channels=3)
    load_resnet_weights(target, {"state_dict": state})
    torch.testing.assert_close(target.layer4[1].bn2.weight, source.layer4[1].bn2.weight)


def test_rgb_weights_initialise_a_grey_model_by_summing_colour_filters():
    source = ResNet18Extractor(in_channels=3)
    grey = ResNet18Extractor(in_channels=1, weights=source.state_dict())
    torch.testing.assert_close(grey.conv1.weight, source.conv1.weight.sum(1, keepdim=True))


def test_unfitting_or_missing_weights_are_reported(tmp_path):
    with pytest.raises(ValueError, match="do not fit a ResNet-18"):
        ResNet18Extractor(weights={"conv1.weight": torch.zeros(64, 3, 7, 7)})
    with pytest.raises(FileNotFoundError, match="not found"):
        ResNet18Extractor(weights=tmp_path / "absent.pt")
    with pytest.raises(TypeError, match="state dict"):
        ResNet18Extractor(weights=42)


# ---------------------------------------------------------------- build_extractor
@pytest.mark.parametrize("name, kind", [("mlp", MLPExtractor), ("cnn", ConvExtractor),
                                        ("resnet18", ResNet18Extractor)])
def test_built_ins_are_built_by_name_for_images(name, kind):
    extractor = build_extractor(name, (2, 8, 8))
    assert isinstance(extractor, kind)
    assert extractor(torch.randn(3, 2, 8, 8)).shape == (3, extractor.out_features)


@pytest.mark.parametrize("name", ["cnn", "resnet18"])
def test_image_extractors_refuse_tables(name):
    with pytest.raises(ValueError, match="needs images"):
        build_extractor(name, (5,))


def test_unknown_names_list_the_built_ins():
    with pytest.raises(ValueError, match="mlp, cnn, resnet18"):
        build_extractor("vgg", (1, 8, 8))


class NoDeclaredSize(nn.Module):
    """A user extractor without ``out_features``."""

    def __init__(self, width=6):
        super().__init__()
        self.linear = nn.LazyLinear(width)

    def forward(self, inputs):
        return self.linear(inputs.flatten(1))


def test_feature_size_is_found_by_a_dry_run_when_not_declared():
    extractor = build_extractor(NoDeclaredSize, (1, 4, 4), width=7)
    assert extractor.out_features == 7


def test_dry_run_leaves_training_mode_and_batch_statistics_alone():
    extractor = ConvExtractor(in_channels=1, channels=(4,)).train()
    before = extractor.net[1].running_mean.clone()
    assert feature_size(extractor, (1, 8, 8)) == 4
    assert extractor.training
    torch.testing.assert_close(extractor.net[1].running_mean, before)


def test_factories_taking_input_shape_receive_it():
    def factory(input_shape, width=3):
        return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1] ** 2, width))

    assert build_extractor(factory, (2, 5, 5)).out_features == 3


def test_module_instances_are_copied_not_shared():
    instance = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    built = build_extractor(instance, (1, 4, 4))
    assert built is not instance and built.out_features == 4
    assert not hasattr(instance, "out_features")
    with pytest.raises(ValueError, match="must be empty"):
        build_extractor(instance, (1, 4, 4), width=3)


@pytest.mark.parametrize(
    "factory, error, message",
    [
        (lambda: 42, TypeError, "torch.nn.Module"),
        (lambda: nn.Flatten(0), ValueError, r"\(2, features\)"),
        (lambda: nn.Linear(3, 3), ValueError, "failed on a float32 batch"),
    ],
)
def test_broken_user_extractors_are_reported(factory, error, message):
    with pytest.raises(error, match=message):
        build_extractor(factory, (1, 4, 4))


def test_a_wrong_declared_feature_size_is_reported():
    def factory():
        module = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
        module.out_features = 5
        return module

    with pytest.raises(ValueError, match="out_features=5"):
        build_extractor(factory, (1, 4, 4))


def test_autocast_extractor_returns_float32_features_close_to_full_precision():
    from skebm.nn import MLPExtractor
    from skebm.nn.extractors import AutocastExtractor

    torch.manual_seed(0)
    inner = MLPExtractor(4, (32, 16))
    wrapped = AutocastExtractor(inner)
    inputs = torch.randn(8, 4)
    features = wrapped(inputs)
    assert features.dtype == torch.float32
    assert wrapped.out_features == 16
    torch.testing.assert_close(features, inner(inputs), atol=0.05, rtol=0.05)
