"""SegEarthSegmentation: image + class names → label map, exactly as SegEarth-OV computes it.

The path, top to bottom (docs/method.md §4–§5): split the image into windows →
dense CLIP features of each window (modified last block) → SimFeatUp → cosine logits
against the text embeddings → global bias alleviation (λ·[CLS]) → merge windows →
softmax, max over synonyms → argmax and threshold.
"""
from __future__ import annotations

import contextlib
from functools import partial
import logging
import time

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS

from ...utils.devices import synchronize
from ...utils.parallel import parallel_map
from ...utils.paths import cache_dir
from ...utils.precision import NAMES, PRECISIONS
from ...utils.runtime import use_huge_pages
from ..backbones import CLIPViTFeatures, build_clip
from ..backbones.clip_vit import check_model_type
from ..backbones.constants import CLIP_MEAN, CLIP_STD
from ..backbones.weights import RANDOM, WeightsNotFoundError
from ..text import TextEmbedder, load_class_names
from ..upsamplers import build_upsampler
from ..upsamplers.weights import resolve_upsampler_weights
from ..upsamplers.jbu import fixup_dtype
from ..upsamplers.kernel_atlas import KernelAtlas
from .windows import slide_windows

logger = logging.getLogger('segearth_ov')

def clip_data_preprocessor() -> dict:
    # `_scope_`: built by mmengine's BaseModel, which otherwise looks in its own registry.
    return dict(type='SegDataPreProcessor', mean=CLIP_MEAN, std=CLIP_STD, bgr_to_rgb=True,
                _scope_='mmseg')


# ViT precision: compute dtype per `precision` setting (None: plain float32)
AUTOCAST = {'auto': None, 'fp32': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}
assert tuple(AUTOCAST) == PRECISIONS


def _chunks(items: list, size: int):
    for i in range(0, len(items), max(size, 1)):
        yield items[i:i + size]


def patch_padding(h: int, w: int, patch: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding to the next multiple of the patch size."""
    ph, pw = -h % patch, -w % patch
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


@MODELS.register_module()
class SegEarthSegmentation(BaseSegmentor):
    """Training-free open-vocabulary segmentor (SegEarth-OV), an mmseg `BaseSegmentor`.

    Keywords are those of the reference configs, plus `pretrained` (weights that replace the
    preset's), `model_cfg` (an open_clip model-config JSON), `quick_gelu` (None: the preset
    decides; True/False forces it, for weights of your own), `classes` (class lines instead
    of `name_path`), `device` (default: CUDA if present, else CPU), `window_batch`, `fast`
    and `precision` of the ViT: 'auto' (fp16 autocast on CUDA, fp32 elsewhere), 'fp32',
    'fp16' or 'bf16' (autocast; `tools/precision_drift.py` measures what it changes), and
    `share_kernels`: SimFeatUp's guidance kernels computed once per image for all overlapping
    slide windows (`KernelAtlas`, fast path); False computes them window by window.
    """

    def __init__(self, name_path=None, clip_type='CLIP', vit_type='ViT-B/16',
                 model_type='SegEarth', ignore_residual=True, prob_thd=0.0, logit_scale=50,
                 slide_stride=112, slide_crop=224, cls_token_lambda=0, bg_idx=0,
                 ssa_last_n_layers=1, feature_up=True,
                 feature_up_cfg=dict(model_name='jbu_one',
                                     model_path='checkpoints/xclip_jbu_one_million_aid.ckpt'),
                 pretrained=None, model_cfg=None, quick_gelu=None, classes=None, device=None,
                 text_cache=True, window_batch=16, fast=True, precision='auto',
                 share_kernels=True, data_preprocessor=None, init_cfg=None):
        use_huge_pages()        # SimFeatUp's large CPU maps; before this model's first tensor
        super().__init__(data_preprocessor=data_preprocessor or clip_data_preprocessor(),
                         init_cfg=init_cfg)
        check_model_type(model_type)
        if not isinstance(window_batch, int) or window_batch < 1:
            raise ValueError(f'window_batch={window_batch!r}: give at least 1 window per ViT '
                             'forward (--window-batch 16, or model.window_batch=16)')
        if precision not in AUTOCAST:
            raise ValueError(f"precision={precision!r}; valid: {', '.join(AUTOCAST)}")
        self.precision = precision
        if model_type == 'GEM' and cls_token_lambda:
            raise ValueError('GEM has no class-token output: use cls_token_lambda=0 with GEM')
        if (name_path is None) == (classes is None):
            raise ValueError('give the classes either as name_path (a class-name file) or as '
                             'classes (a list of lines such as ["building,roof", "road"])')
        self.class_names = load_class_names(classes if classes is not None else name_path)
        device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))

        up_cfg = dict(feature_up_cfg or {})
        up_name, up_path = up_cfg.get('model_name', 'jbu_one'), up_cfg.get('model_path')
        # SimFeatUp's file (downloaded if need be) is looked for before CLIP's, so that
        # offline both missing files are named in one error, not one per try
        up_missing = None
        if feature_up and up_path != RANDOM and up_name != 'bilinear':
            try:
                up_path = resolve_upsampler_weights(up_name, up_path)
            except FileNotFoundError as err:
                up_missing = err
        try:
            clip, tokenizer, self.weights_path = build_clip(clip_type, vit_type, pretrained,
                                                            model_cfg, quick_gelu)
        except WeightsNotFoundError as err:
            if up_missing is None:
                raise
            raise WeightsNotFoundError(f'2 weight files are missing. 1) {err} 2) {up_missing}') \
                from None
        if up_missing is not None:
            raise up_missing
        self.clip_type, self.vit_type, self.model_type = clip_type, vit_type, model_type
        self.image_encoder = CLIPViTFeatures(clip.visual, model_type, ignore_residual,
                                             ssa_last_n_layers)
        self.patch_size = self.image_encoder.patch_size

        self.feature_up = feature_up
        self.upsampler = None
        # the SimFeatUp file used (None: no SimFeatUp or a parameter-free one), recorded in
        # every output with the CLIP weights (`weights_path`; utils/provenance.py)
        self.upsampler_path = None
        if feature_up:
            self.upsampler = build_upsampler(
                up_name, self.image_encoder.embed_dim, self.patch_size,
                None if up_path == RANDOM else up_path, allow_random=up_path == RANDOM)
            self.upsampler_path = None if up_path == RANDOM else up_path

        self.logit_scale = logit_scale
        self.prob_thd = prob_thd
        self.bg_idx = bg_idx
        self.slide_stride = slide_stride
        self.slide_crop = slide_crop
        self.cls_token_lambda = cls_token_lambda
        self.window_batch = window_batch   # windows per ViT forward (1: the reference's loop)
        # fast=False: the straightforward path (one window at a time, SimFeatUp on all C
        # channels in plain PyTorch) for debugging and as the benchmarks' baseline.
        self.fast = fast
        self.share_kernels = share_kernels

        # Kept (outside the module tree, so state_dict and .to() see the image side only)
        # for set_classes(): a new class list needs only the text encoder.
        self._embedder = TextEmbedder(clip, tokenizer, weights_file=self.weights_path,
                                      cache_dir=cache_dir() / 'text_embeddings' if text_cache
                                      and self.weights_path else None)
        self.register_buffer('query_features', torch.empty(0), persistent=False)
        self.register_buffer('query_idx', torch.empty(0, dtype=torch.long), persistent=False)
        self.requires_grad_(False)   # training-free: no autograd graph, less memory
        clip.requires_grad_(False)
        self.to(device)
        self.eval()
        self._embed(self.class_names)

    def _embed(self, class_names) -> None:
        device = self.device
        self._embedder.model.to(device)
        t0 = time.perf_counter()
        with torch.no_grad():
            query_features = self._embedder(class_names.queries, device)
        synchronize(device)     # the text tower's CUDA kernels are asynchronous: wait for them
        self.text_seconds = time.perf_counter() - t0
        self.text_from_cache = self._embedder.last_from_cache
        self.class_names = class_names
        self.query_features = query_features.float()
        self.query_idx = torch.tensor(class_names.query_idx, device=device)

    def set_classes(self, classes, prob_thd: float | None = None, bg_idx: int | None = None):
        """Switch to another class list (a class-name file or lines) without rebuilding the
        image side: only the text embeddings are computed (or read from the cache)."""
        self._embed(load_class_names(classes))
        if prob_thd is not None:
            self.prob_thd = prob_thd
        if bg_idx is not None:
            self.bg_idx = bg_idx
        return self

    @property
    def device(self) -> torch.device:
        """Where the model is now (mmengine's Runner may have moved it after construction)."""
        return self.query_features.device

    @property
    def num_classes(self) -> int:
        return len(self.class_names.classes)

    # ----------------------------------------------------------------- one window
    @property
    def compute_dtype(self) -> torch.dtype:
        """The ViT's precision as `precision` resolves on this device ('auto': fp16 on CUDA,
        float32 elsewhere)."""
        dtype = AUTOCAST[self.precision]
        if self.precision == 'auto':
            dtype = torch.float16 if self.device.type == 'cuda' else None
        return dtype or torch.float32

    @property
    def precision_used(self) -> str:
        """'fp32', 'bf16' or 'fp16': recorded in every output (`utils.provenance`)."""
        return NAMES[self.compute_dtype]

    def _fixup_precision(self):
        """SimFeatUp's kernel fixup in bf16 on the CPU bf16 path (`jbu.fixup_dtype` says why
        only there), float32 otherwise."""
        bf16 = self.device.type == 'cpu' and self.compute_dtype == torch.bfloat16
        return fixup_dtype(torch.bfloat16 if bf16 else None)

    def _autocast(self):
        dtype = self.compute_dtype
        if dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _vit(self, crops: torch.Tensor):
        """(cls, patch features) of a batch of crops at the ViT's precision. On CPU, lower
        precision runs the encoder's own path (weights cast once, float32 residual stream;
        `LowPrecisionWeights` says why not autocast); on CUDA, autocast."""
        with_cls = self.cls_token_lambda != 0
        if self.device.type == 'cpu':
            return self.image_encoder(crops, with_cls=with_cls, dtype=self.compute_dtype)
        with self._autocast():
            return self.image_encoder(crops, with_cls=with_cls)

    def window_logits(self, crops: torch.Tensor, kernels: list | None = None) -> torch.Tensor:
        """Cosine logits (B×Q×H×W) of a batch of normalised crops with patch-multiple sides.

        The ViT runs on the whole batch; SimFeatUp and the logits run one window at a time,
        in the upsampler's reduced basis when it has one (f = Q·g: ‖f‖ = ‖g‖, f·T = g·QᵀT),
        so no C×H×W feature map is ever built. `kernels[i]()`: window i's SimFeatUp kernels
        cut from a `KernelAtlas` when needed (or None: computed here).
        """
        cls, feats = self._vit(crops)
        text = self.query_features
        bias = None
        if cls is not None:
            cls = cls.float()
            bias = self.cls_token_lambda * (cls / cls.norm(dim=-1, keepdim=True)) @ text.T

        def one(i):
            f, basis = feats[i:i + 1], None
            if self.upsampler is not None:
                cut = kernels[i]() if kernels else None
                with self._autocast():
                    f, basis = self.upsampler.upsample(f.float(), crops[i:i + 1], cut,
                                                       fast=self.fast)
            f = f.float()
            t = text if basis is None else text @ basis[0].float()      # Q×r
            logits = torch.einsum('brhw,qr->bqhw', f, t) / f.norm(dim=1, keepdim=True)
            if bias is not None:
                logits = logits + bias[i].view(1, -1, 1, 1)
            return logits

        # windows side by side on CPU, one thread each (utils/parallel.py); one at a time on
        # CUDA and on the straightforward path
        out = parallel_map(one, range(crops.shape[0]), self.device,
                           max_workers=None if self.fast else 1)
        logits = torch.cat(out) if len(out) > 1 else out[0]
        if logits.shape[-2:] != crops.shape[-2:]:
            logits = F.interpolate(logits, size=crops.shape[-2:], mode='bilinear',
                                   align_corners=False)
        return logits

    def image_logits(self, img: torch.Tensor) -> torch.Tensor:
        """Query logits (1×Q×H×W) of one normalised image: slide windows or whole image.

        Windows are zero-padded to patch multiples (half before, half after), run through
        the model `window_batch` at a time, cut back, summed and divided by their count.
        """
        with self._fixup_precision():
            h, w = img.shape[-2:]
            if self.slide_crop > 0:
                windows = list(slide_windows(h, w, self.slide_crop, self.slide_stride))
            else:
                windows = [(0, h, 0, w)]
            total = img.new_zeros(1, self.query_features.shape[0], h, w)
            count = img.new_zeros(1, 1, h, w)
            atlas = self._kernel_atlas(img, windows)
            for chunk in _chunks(windows, self.window_batch if self.fast else 1):
                crops, pads = [], []
                for y1, y2, x1, x2 in chunk:
                    l, r, t, b = patch_padding(y2 - y1, x2 - x1, self.patch_size)
                    crops.append(F.pad(img[..., y1:y2, x1:x2], (l, r, t, b)))
                    pads.append((l, t))
                # all windows have one size: min(crop, H) × min(crop, W), or the whole image
                # cut one window's kernels at a time (≈ 32 MB each at 224²), when it is upsampled
                kernels = ([partial(atlas.window, y1, x1) for y1, _, x1, _ in chunk]
                           if atlas else None)
                logits = self.window_logits(torch.cat(crops), kernels).split(1)
                for (y1, y2, x1, x2), (l, t), lg in zip(chunk, pads, logits):
                    total[..., y1:y2, x1:x2] += lg[..., t:t + y2 - y1, l:l + x2 - x1]
                    count[..., y1:y2, x1:x2] += 1
            return total / count

    def _kernel_atlas(self, img: torch.Tensor, windows: list) -> KernelAtlas | None:
        """SimFeatUp's guidance kernels for all windows at once (fast path, overlapping
        windows of one patch-multiple size), else None."""
        if not (self.fast and self.share_kernels and self.upsampler is not None
                and self.upsampler.atlas_kernels
                and KernelAtlas.applies(windows, img.shape[-2:], self.patch_size)):
            return None
        y1, y2, x1, x2 = windows[0]
        return KernelAtlas(self.upsampler, img.float(), (y2 - y1, x2 - x1), self.patch_size,
                           windows)

    def class_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """softmax(logit_scale · logits) over queries, then the max over each class's synonyms.

        On the logits' device, wherever the model is (the scene predictor blends tiles' logits
        on the CPU).
        """
        probs = torch.softmax(self.logit_scale * logits, dim=0)
        if probs.shape[0] == self.num_classes:
            return probs
        out = probs.new_full((self.num_classes, *probs.shape[1:]), float('-inf'))
        index = self.query_idx.to(probs.device).view(-1, 1, 1).expand_as(probs)
        return out.scatter_reduce(0, index, probs, reduce='amax')

    def labels(self, probs: torch.Tensor) -> torch.Tensor:
        """argmax over classes; pixels whose best probability is below prob_thd → bg_idx."""
        best, pred = probs.max(dim=0, keepdim=True)
        return torch.where(best < self.prob_thd, self.bg_idx, pred)   # no sync (a mask would)

    # ------------------------------------------------------------ mmseg API
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples=None):
        """Fill `seg_logits` (class probabilities) and `pred_sem_seg` at each sample's ori_shape.

        `inputs` are normalised B×3×H×W tensors (from `data_preprocessor`). Without
        data samples, returns the B×H×W label maps.
        """
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError(
                f'expected normalised images of shape B×3×H×W, got {tuple(inputs.shape)}. '
                'Load 1-band images as 3 bands (replicated) and drop a 4th (alpha) band; '
                'segearth_ov.utils.images.to_three_bands does both.')
        samples = data_samples or [None] * inputs.shape[0]
        inputs = inputs.to(self.device)
        preds = []
        for i, sample in enumerate(samples):
            meta = sample.metainfo if sample is not None else {}
            h, w = meta.get('img_shape', inputs.shape[-2:])[:2]
            out_shape = meta.get('ori_shape', (h, w))[:2]
            logits = self.image_logits(inputs[i:i + 1, :, :h, :w])
            if tuple(logits.shape[-2:]) != tuple(out_shape):
                logits = F.interpolate(logits, size=out_shape, mode='bilinear',
                                       align_corners=False)
            probs = self.class_probabilities(logits[0])
            pred = self.labels(probs)
            if sample is not None:
                sample.set_data({'seg_logits': PixelData(data=probs),
                                 'pred_sem_seg': PixelData(data=pred)})
            preds.append(pred[0])
        return data_samples if data_samples is not None else torch.stack(preds)

    def extract_feat(self, inputs):
        return self.image_encoder(inputs)[1]

    def encode_decode(self, inputs, batch_img_metas):
        return torch.cat([self.image_logits(inputs[i:i + 1]) for i in range(inputs.shape[0])])

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs, None)

    def loss(self, inputs, data_samples):
        raise NotImplementedError('SegEarthSegmentation is training-free; it has no loss')
