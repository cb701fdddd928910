"""A full-size CLIP ViT-B/16 (open_clip's own architecture, QuickGELU) with synthetic weights
whose residual stream has the large-outlier channels real CLIP has, for checking fp16/bf16
without downloaded weights (tests/models/test_outlier_vit.py, tests/gpu, and
tools/precision_drift.py --outlier-vit).

How the outliers are made: trained CLIP ViTs (as LLMs) carry a few residual-stream channels
whose values are two orders of magnitude above the rest on every token ("systematic outlier
features", Dettmers et al. 2022, LLM.int8(); "massive activations", Sun et al. 2024, who show
them in CLIP ViTs), and the LayerNorms that read the stream give those channels small gains so
the blocks still see O(1) inputs. Here, starting from open_clip's random initialisation
(seeded), `OUTLIER_CHANNELS` channels of the stream are multiplied by `OUTLIER_SCALE`: ln_pre
(where the stream starts) writes them ×scale with a ±scale offset, every block's attention and
MLP output projections write them ×scale, and ln_1, ln_2 and ln_post divide their gains there by
scale. The stream then holds ~100× values in 4 of its 768 channels, which dominate every
LayerNorm's mean and variance, as in real CLIP.
"""
from __future__ import annotations

import numpy as np
import torch

OUTLIER_CHANNELS = (47, 211, 502, 693)
OUTLIER_SCALE = 100.0
CLASSES = ['background', 'bareland,barren', 'grass', 'pavement', 'road', 'tree,forest',
           'water,river', 'cropland', 'building,roof,house']


def add_outlier_channels(visual, channels=OUTLIER_CHANNELS, scale: float = OUTLIER_SCALE,
                         seed: int = 0) -> None:
    """Give an open_clip VisionTransformer's residual stream outlier channels (module doc)."""
    idx = torch.as_tensor(channels)
    sign = torch.randint(0, 2, (len(channels),), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        visual.ln_pre.weight[idx] *= scale
        visual.ln_pre.bias[idx] = scale * (2 * sign - 1).to(visual.ln_pre.bias.dtype)
        for blk in visual.transformer.resblocks:
            for lin in (blk.attn.out_proj, blk.mlp.c_proj):
                lin.weight[idx] *= scale
                lin.bias[idx] *= scale
            blk.ln_1.weight[idx] /= scale
            blk.ln_2.weight[idx] /= scale
        visual.ln_post.weight[idx] /= scale


def outlier_segmentor(device='cpu', seed: int = 0, **settings):
    """SegEarth-OV (ViT-B/16 with outlier channels, random JBU_One) for the OEM classes; its
    class embeddings come from an image (`use_image_prototypes`) before it predicts."""
    from segearth_ov.apis import init_segmentor
    from segearth_ov.models.text import embeddings
    torch.manual_seed(seed)
    templates = embeddings.openai_templates
    embeddings.openai_templates = lambda: templates()[:1]   # the text is replaced anyway
    try:
        model = init_segmentor(CLASSES, pretrained='random', upsampler_ckpt='random',
                               device=device, text_cache=False, **settings)
    finally:
        embeddings.openai_templates = templates
    add_outlier_channels(model.image_encoder.visual, seed=seed)
    return model


def normalised(rgb: np.ndarray, device='cpu') -> torch.Tensor:
    """An RGB uint8 H×W×3 image as the model's normalised 1×3×H×W input."""
    from segearth_ov.models.backbones.constants import CLIP_MEAN, CLIP_STD
    x = torch.from_numpy(rgb).permute(2, 0, 1).float()
    x = (x - torch.tensor(CLIP_MEAN).view(3, 1, 1)) / torch.tensor(CLIP_STD).view(3, 1, 1)
    return x[None].to(device)


def use_image_prototypes(model, rgb: np.ndarray) -> None:
    """Replace the class embeddings by the float32 dense features of as many tokens of `rgb`,
    spread over feature space (farthest-point sampling from token 0).

    Why: random text and image towers predict one class everywhere, so any precision would
    "agree"; trained CLIP's class embeddings match regions of the image, and prototypes taken
    from the image's own features give such a map, with boundaries where features change."""
    with torch.no_grad():
        _, feats = model.image_encoder(normalised(rgb, model.device))
    tokens = torch.nn.functional.normalize(feats[0].flatten(1).T, dim=-1)    # N×C
    chosen = [0]
    dist = 1 - tokens @ tokens[0]
    for _ in range(len(model.class_names.queries) - 1):
        chosen.append(int(dist.argmax()))
        dist = torch.minimum(dist, 1 - tokens @ tokens[chosen[-1]])
    model.query_features = tokens[chosen].clone()


def stream_outlier_ratio(model, img: torch.Tensor) -> float:
    """Median |value| of the outlier channels over that of the others, in the stream entering
    the last block (shows the outliers are there)."""
    enc = model.image_encoder
    with torch.no_grad():
        x, _ = enc.embed(img)
        x = enc._blocks(x, enc.visual.transformer.resblocks[:-1]).abs()
    mask = torch.zeros(x.shape[-1], dtype=torch.bool)
    mask[list(OUTLIER_CHANNELS)] = True
    return float(x[..., mask].median() / x[..., ~mask].median())


def demo_crop(tile, size: int) -> np.ndarray:
    """The top-left size × size RGB crop of `tile` (the demo tile: a real OpenEarthMap image)."""
    import rasterio
    with rasterio.open(tile) as src:
        rgb = src.read([1, 2, 3], window=rasterio.windows.Window(0, 0, size, size))
    return np.ascontiguousarray(rgb.transpose(1, 2, 0))


def pred_agreement(model, rgb: np.ndarray, run_pipeline, precisions=('fp32', 'bf16')) -> dict:
    """{precision: share of pixels whose class equals the fp32 prediction} (fp32 first);
    `run_pipeline`: conftest's (the eval pipeline's preprocessing). The class embeddings are
    the image's prototypes (`use_image_prototypes`)."""
    model.precision = 'fp32'
    use_image_prototypes(model, rgb)
    preds = {}
    for precision in ('fp32', *[p for p in precisions if p != 'fp32']):
        model.precision = precision
        preds[precision] = run_pipeline(model, rgb).pred_sem_seg.data[0].cpu().numpy()
    return {p: float((preds[p] == preds['fp32']).mean()) for p in preds}
