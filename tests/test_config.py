"""The MyCaffe preset against formulas written from MyCaffe's C# source (MyCaffe/MyCaffe on GitHub).

From `MyCaffe.extras/NeuralStyleTransfer.cs` and the layers it adds:
- GRAM (GramLayer.cs): G = alpha F F^T, alpha = 1e-4, beta = 1; with disable_scaling_on_gradient
  the backward is dF = (dG + dG^T) F, with no alpha.
- style loss: EUCLIDEAN_LOSS(input_gram, event_gram) with loss_weight 0.2 * get_style_scale =
  0.2 / (4 C^4); Caffe's Euclidean loss is sum((a - b)^2) / num / 2 with num = 1.
- content: SCALAR (MUL 1e-4, passthrough_gradient: dx = dy) on the features and on the target,
  then EVENT, then EUCLIDEAN_LOSS with loss_weight 1 * 1e-4.
- EVENT (EventLayer_OnBackward): bottom diff = |sign(target)| * top diff.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import nst_tutorial as nt
from nst_tutorial.data import image_path
from nst_tutorial.targets import features_at

ALPHA = BETA = 1e-4


def mycaffe_loss_and_gradient(net, image, content, style):
    """MyCaffe's loss and the image gradient it back-propagates, written out from the C# layers."""
    style_taps = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    fs = features_at(net, style, style_taps)
    fc = features_at(net, content, ["relu4_2"])["relu4_2"]
    x = image.detach().clone().requires_grad_(True)
    feats, h = {}, x
    for name, layer in net.named_children():  # a plain forward with autograd, through the same layers
        h = layer(h)
        feats[name] = h
    loss, outputs, grads = 0.0, [], []
    for tap in style_taps:
        f, f_s = feats[tap][0].flatten(1), fs[tap][0].flatten(1)  # (C, HW)
        c = f.shape[0]
        g, t = ALPHA * f.detach() @ f.detach().T, ALPHA * f_s @ f_s.T
        weight = 0.2 / (4 * c**4)
        loss += weight * ((t - g) ** 2).sum().item() / 2
        m = weight * (g - t) * t.sign().abs()  # Euclidean loss gradient, then EVENT
        outputs.append(feats[tap])
        grads.append(((m + m.T) @ f.detach()).reshape_as(feats[tap]))  # GRAM backward, no alpha
    f = feats["relu4_2"].detach()
    loss += 1e-4 * ((BETA * f - BETA * fc) ** 2).sum().item() / 2
    outputs.append(feats["relu4_2"])
    grads.append(1e-4 * (BETA * f - BETA * fc) * (BETA * fc).sign().abs())  # EVENT, SCALAR passes through
    (grad,) = torch.autograd.grad(outputs, x, grads)
    return loss, grad


def test_preset_loss_and_gradient_match_mycaffe_formulas():
    cfg = nt.Config.mycaffe(size=45)  # 45x34, odd sides: Caffe's pooling rounds up (45 -> 23 -> 12 -> 6 -> 3)
    model = nt.prepare(image_path("u_street_metro"), image_path("starry_night"), cfg)
    with torch.no_grad():
        model.image.add_(torch.randn(model.image.shape, generator=torch.Generator().manual_seed(0)) * 20)
    total = model()
    total.backward()
    content = nt.load_image(image_path("u_street_metro"), 45)
    style = F.interpolate(nt.load_image(image_path("starry_night")), size=content.shape[-2:], mode="bicubic",
                          antialias=True).clamp(0, 1)  # MyCaffe stretches the style to the content's size
    norm = nt.Normalizer("caffe")
    net = nt.build_vgg19("caffe", "max", last="relu5_1", ceil_mode=True)
    assert features_at(net, norm.to_model(content), ["relu5_1"])["relu5_1"].shape[-2:] == (3, 3)  # floor: (2, 2)
    loss, grad = mycaffe_loss_and_gradient(net, model.image, norm.to_model(content), norm.to_model(style))
    assert abs(total.item() - loss) <= 1e-4 * loss
    assert torch.allclose(model.image.grad, grad, rtol=1e-4, atol=1e-6 * grad.abs().max().item())
    # What "not scaled" means: MyCaffe's gradient is 1/alpha times the derivative of its own loss.
    x = model.image.detach().clone().requires_grad_(True)
    true_grad = torch.autograd.grad(_autograd_loss(net, x, norm.to_model(content), norm.to_model(style)), x)[0]
    ratio = (model.image.grad * true_grad).sum() / (true_grad * true_grad).sum()
    assert 0.5e4 < ratio < 2e4


def _autograd_loss(net, x, content, style):
    """The preset's forward value as a plain differentiable formula (no EVENT gate)."""
    taps = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu4_2"]
    fx, fs, fc = features_at.__wrapped__(net, x, taps), features_at(net, style, taps), features_at(net, content, taps)
    loss = 1e-4 * ((BETA * fx["relu4_2"] - BETA * fc["relu4_2"]) ** 2).sum() / 2
    for tap in taps[:5]:
        f, f_s = fx[tap][0].flatten(1), fs[tap][0].flatten(1)
        loss = loss + 0.2 / (4 * f.shape[0] ** 4) * ((ALPHA * f @ f.T - ALPHA * f_s @ f_s.T) ** 2).sum() / 2
    return loss


def test_preset_values_and_overrides():
    cfg = nt.Config.mycaffe()
    assert (cfg.size, cfg.gram_scale, cfg.content_scale, cfg.content_weight) == (640, 1e-4, 1e-4, 1e-4)
    assert cfg.style_layer_weights == (0.2,) * 5 and cfg.scales == (1.0,) and cfg.ceil_mode
    assert cfg.euclidean == "caffe" and cfg.style_resize == "content" and cfg.style_channel_scale
    assert nt.Config.mycaffe(size=128).size == 128


def test_caffe_gram_backward_skips_alpha():
    from nst_tutorial.style_losses import gram

    f = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(1, 3, 3, dtype=torch.float64)
    (gram(f, 1e-3) * upstream).sum().backward()
    flat = f.detach().reshape(1, 3, 20)
    assert torch.allclose(gram(f, 1e-3), 1e-3 * flat @ flat.transpose(1, 2))
    assert torch.allclose(f.grad, ((upstream + upstream.transpose(1, 2)) @ flat).reshape_as(f))
