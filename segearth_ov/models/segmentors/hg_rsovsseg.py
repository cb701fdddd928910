"""HGRSOVSeg: HG-RSOVSSeg (Huang et al., Remote Sens. 2026) as an mmseg segmentor.

A light decoder trained once on frozen CLIP features; at inference any class list can be
typed (classes never seen in training included). Frozen CLIP image encoder with PEA →
E_I and intermediate maps; frozen CLIP text encoder with prompt templates → E_Tv (cached
on disk like the training-free segmentor's); FA → hierarchical decoder (TAM + HGU) → one
logit per class, bilinearly upsampled to the input. Synonym lines (`a,b,c`) are scored per
synonym and a class takes the maximum of its synonyms' logits.

Only decoder parameters train. The frozen encoder runs under `torch.no_grad()` (no stored
activations) and is left out of checkpoints (it is rebuilt from the preset), so a checkpoint
holds the decoder and whatever of CLIP was unfrozen.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..backbones import build_clip
from ..decoders import HierarchicalDecoder, PEAViTEncoder, get_templates
from ..text import TextEmbedder, load_class_names
from ...utils.paths import cache_dir
from .segearth import clip_data_preprocessor, slide_windows



def hg_data_preprocessor(size=None) -> dict:
    """CLIP normalisation; training batches padded to `size` (or to the largest image),
    labels padded with the ignore value 255."""
    pad = dict(size=tuple(size)) if size else dict(size_divisor=1)
    return dict(clip_data_preprocessor(), pad_val=0, seg_pad_val=255, **pad)


# parameter-name patterns of the paper's "unfrozen" rows (§5.1: attention + positional embeddings)
TRAINABLE_PARTS = {'attn': ('.attn.',), 'pos': ('positional_embedding',)}
TEXT_MODULES = ('token_embedding', 'positional_embedding', 'transformer', 'ln_final',
                'text_projection')


def _mark_trainable(named_params, parts, where: str) -> int:
    parts = tuple(parts or ())
    unknown = [p for p in parts if p not in TRAINABLE_PARTS]
    if unknown:
        raise ValueError(f'{where}: unknown part(s) {unknown}; valid: {", ".join(TRAINABLE_PARTS)}')
    count = 0
    for name, p in named_params:
        train = any(pat in '.' + name for part in parts for pat in TRAINABLE_PARTS[part])
        p.requires_grad_(train)
        count += int(train)
    return count


class TextTower(torch.nn.Module):
    """The CLIP text tower as a module of its own (only built when it is unfrozen)."""

    def __init__(self, clip):
        super().__init__()
        for name in TEXT_MODULES:
            value = getattr(clip, name)
            if isinstance(value, torch.nn.Parameter):
                self.register_parameter(name, value)
            elif value is not None:
                self.add_module(name, value)
        self.register_buffer('attn_mask', clip.attn_mask, persistent=False)
        self.text_pool_type = getattr(clip, 'text_pool_type', 'argmax')

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        from open_clip.transformer import text_global_pool
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.transformer(x, attn_mask=self.attn_mask)
        x = text_global_pool(self.ln_final(x), tokens, self.text_pool_type)
        proj = self.text_projection
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj


@MODELS.register_module()
class HGRSOVSeg(BaseSegmentor):
    """HG-RSOVSSeg segmentor. Paper defaults; every ablation of §4.5–§5.1 is an option.

    Args:
        classes / name_path: the class lines (training: the dataset's classes in label
            order, background excluded when it is ignored). `set_classes` changes them.
        clip_type, vit_type, pretrained, model_cfg, quick_gelu: the backbone (any preset
            of the training-free segmentor; paper default CLIP ViT-L/14).
        templates: 'vild' (14, default), 'imagenet' (80), 'imagenet_select_clip' (32) or a
            list of sentences with one '{}'.
        guidance_layers: 1-indexed ViT blocks for the guidance maps (None: 7 and 15 of 24,
            the same fractions of other depths). Must have one entry per `c_o` level.
        pea: positional-embedding adaptation (False: images resized to the native 224/336).
        fa: 'product' (paper), 'similarity', 'cost'. tam / hgu: ablation switches.
        c_k, c_o, hgu_channels: TAM key channels, guidance channels, HGU concat width.
        image_trainable / text_trainable: parts of CLIP that train (§5.1's "unfrozen"
            rows: ('attn', 'pos')); default nothing.
        loss_decode: an mmseg loss config; `ignore_index` (255) is ignored in it.
        test_cfg: dict(mode='whole') or dict(mode='slide', crop_size=(h, w), stride=(h, w)).
    """

    def __init__(self, classes=None, name_path=None, clip_type='CLIP', vit_type='ViT-L/14',
                 pretrained=None, model_cfg=None, quick_gelu=None, templates='vild',
                 guidance_layers=None, pea=True, fa='product', tam=True, hgu=True, c_k=512,
                 c_o=(128, 64), hgu_channels=None, fa_normalize=True, image_trainable=(),
                 text_trainable=(), loss_decode=None, ignore_index=255, text_cache=True,
                 train_cfg=None, test_cfg=None, data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor or hg_data_preprocessor(),
                         init_cfg=init_cfg)
        if (name_path is None) == (classes is None):
            raise ValueError('give the classes either as name_path (a class-name file) or as '
                             'classes (a list of lines such as ["building,roof", "road"])')
        clip, tokenizer, self.weights_path = build_clip(clip_type, vit_type, pretrained,
                                                        model_cfg, quick_gelu)
        self.clip_type, self.vit_type = clip_type, vit_type
        self.image_encoder = PEAViTEncoder(clip.visual, guidance_layers, pea)
        self.pea = pea
        self.templates = get_templates(templates)
        embed_dim = self.image_encoder.embed_dim
        c_o = tuple(c_o)
        if len(self.image_encoder.layers) != len(c_o) and hgu:
            raise ValueError(f'guidance_layers {self.image_encoder.layers} and c_o {c_o} must '
                             'have the same length (one guidance level per layer)')
        self.decode = HierarchicalDecoder(embed_dim, self.image_encoder.width, c_o, c_k, fa,
                                          tam, hgu, hgu_channels, len(self.templates),
                                          fa_normalize)
        self.fa = fa
        clip.requires_grad_(False)
        self.image_trainable = _mark_trainable(self.image_encoder.named_parameters(),
                                               image_trainable, 'image_trainable') > 0
        self.text_tower = None
        if text_trainable:
            self.text_tower = TextTower(clip)
            _mark_trainable(self.text_tower.named_parameters(), text_trainable, 'text_trainable')
        # The frozen text side lives outside the module tree (not in checkpoints); its
        # embeddings are cached on disk and held in buffers that follow .to().
        self._tokenizer = tokenizer
        self._embedder = TextEmbedder(clip, tokenizer, templates=self.templates,
                                      weights_file=self.weights_path,
                                      cache_dir=cache_dir() / 'text_embeddings'
                                      if text_cache and self.weights_path else None)
        self.register_buffer('query_features', torch.empty(0), persistent=False)
        self.register_buffer('template_features', torch.empty(0), persistent=False)
        self.register_buffer('query_idx', torch.empty(0, dtype=torch.long), persistent=False)
        self.register_buffer('_tokens', torch.empty(0, dtype=torch.long), persistent=False)
        self.ignore_index = ignore_index
        self.loss_decode = MODELS.build(loss_decode or dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True))
        self.train_cfg = train_cfg or {}
        self.test_cfg = dict(test_cfg or dict(mode='whole'))
        self.align_corners = False
        self._register_state_dict_hook(_drop_frozen_clip)
        self._register_load_state_dict_pre_hook(self._fill_frozen_clip)
        self.set_classes(classes if classes is not None else name_path)

    # ------------------------------------------------------------------ text side
    def set_classes(self, classes):
        """Switch to another class list (file or lines): only text embeddings are computed."""
        names = load_class_names(classes)
        device = self.query_features.device
        clip = self._embedder.model
        clip.to(device)
        with torch.no_grad():
            self.query_features = self._embedder(names.queries, device).float()
            if self.fa == 'cost':   # per-template embeddings, N×P×C (each set cached)
                per = [TextEmbedder(clip, self._tokenizer, templates=[t],
                                    weights_file=self.weights_path,
                                    cache_dir=self._embedder.cache_dir)(names.queries, device)
                       for t in self.templates]
                self.template_features = torch.stack(per, dim=1).float()
        if self.text_tower is not None:
            prompts = [t(q) for q in names.queries for t in self.templates]
            self._tokens = self._tokenizer(prompts).to(device)
        self.class_names = names
        self.query_idx = torch.tensor(names.query_idx, device=device)
        return self

    @property
    def num_classes(self) -> int:
        return len(self.class_names.classes)

    def text_features(self) -> torch.Tensor:
        """E_Tv (Q×C, one row per synonym): the cached buffer, or computed with gradients
        through the text tower when it is unfrozen."""
        if self.text_tower is None:
            return self.query_features
        feats = self.text_tower(self._tokens.to(self.query_features.device)).float()
        feats = feats / feats.norm(dim=-1, keepdim=True)
        feats = feats.view(len(self.class_names.queries), len(self.templates), -1).mean(1)
        return feats / feats.norm(dim=-1, keepdim=True)

    # ------------------------------------------------------------------ image side
    def extract_feat(self, inputs: torch.Tensor):
        """(intermediate maps, E_I) of normalised images; without autograd when frozen."""
        if not self.pea:
            inputs = F.interpolate(inputs, size=self.image_encoder.native_size,
                                   mode='bilinear', align_corners=False)
        with torch.set_grad_enabled(self.image_trainable and torch.is_grad_enabled()):
            return self.image_encoder(inputs)

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas=None) -> torch.Tensor:
        """Class logits B×N×H×W at the input size (max over each class's synonyms)."""
        intermediates, image = self.extract_feat(inputs)
        text = self.text_features()
        per_template = self.template_features if self.fa == 'cost' else None
        logits = self.decode(image, intermediates, text, per_template)
        logits = F.interpolate(logits, size=inputs.shape[-2:], mode='bilinear',
                               align_corners=False)
        return self.reduce_synonyms(logits)

    def reduce_synonyms(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] == self.num_classes:
            return logits
        b, _, h, w = logits.shape
        index = self.query_idx.view(1, -1, 1, 1).expand_as(logits)
        out = logits.new_full((b, self.num_classes, h, w), float('-inf'))
        return out.scatter_reduce(1, index, logits, reduce='amax')

    # ------------------------------------------------------------------ mmseg API
    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        logits = self.encode_decode(inputs)
        labels = torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
        if logits.shape[-2:] != labels.shape[-2:]:
            logits = F.interpolate(logits, size=labels.shape[-2:], mode='bilinear',
                                   align_corners=False)
        valid = labels != self.ignore_index
        self._check_labels(labels, valid)
        loss = self.loss_decode(logits, labels, ignore_index=self.ignore_index)
        # masks, not boolean indexing: no wait for the GPU (0 when no pixel is labelled)
        hits = ((logits.argmax(1) == labels) & valid).sum()
        acc = hits * 100.0 / valid.sum().clamp(min=1)
        return {'loss_ce': loss, 'acc_seg': acc.detach()}

    def _check_labels(self, labels: torch.Tensor, valid: torch.Tensor) -> None:
        """A label beyond the classes is a clear error here (on a GPU, cross-entropy would
        stop the process with a device-side assert); one host sync per batch."""
        top = int(torch.where(valid, labels, 0).max())
        if top >= self.num_classes:
            raise ValueError(
                f'label value {top} but the model has {self.num_classes} '
                f'classes ({", ".join(self.class_names.names)}): the class lines must list the '
                f'dataset classes in label order; ignored labels must be {self.ignore_index}')

    def inference(self, inputs: torch.Tensor, batch_img_metas) -> torch.Tensor:
        mode = self.test_cfg.get('mode', 'whole')
        if mode == 'whole':
            return self.encode_decode(inputs, batch_img_metas)
        if mode == 'slide':
            return self.slide_inference(inputs)
        raise ValueError(f"test_cfg mode must be 'whole' or 'slide', got {mode!r}")

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """mmseg's slide inference: overlapping crop windows, logits averaged where they overlap."""
        ch, cw = _pair(self.test_cfg.get('crop_size', 512))
        sh, sw = _pair(self.test_cfg.get('stride', 341))
        if ch != cw or sh != sw:
            raise ValueError('slide inference takes square crop_size and stride')
        b, _, h, w = inputs.shape
        total = inputs.new_zeros(b, self.num_classes, h, w)
        count = inputs.new_zeros(1, 1, h, w)
        for y1, y2, x1, x2 in slide_windows(h, w, ch, sh):
            total[..., y1:y2, x1:x2] += self.encode_decode(inputs[..., y1:y2, x1:x2])
            count[..., y1:y2, x1:x2] += 1
        return total / count

    def predict(self, inputs: torch.Tensor, data_samples=None):
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError(f'expected normalised images B×3×H×W, got {tuple(inputs.shape)}')
        if data_samples is not None:
            metas = [s.metainfo for s in data_samples]
        else:
            metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                          pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        with torch.no_grad():
            logits = self.inference(inputs, metas)
        return self.postprocess_result(logits, data_samples)

    def postprocess_result(self, seg_logits, data_samples=None):
        if seg_logits.shape[1] > 1:
            return super().postprocess_result(seg_logits, data_samples)
        # one class: every pixel is that class (mmseg's C == 1 path assumes a sigmoid head)
        samples = data_samples or [SegDataSample() for _ in range(seg_logits.shape[0])]
        for s, lg in zip(samples, seg_logits):
            shape = s.metainfo.get('ori_shape', lg.shape[-2:])
            lg = F.interpolate(lg[None], size=shape, mode='bilinear', align_corners=False)[0]
            s.set_data({'seg_logits': PixelData(data=lg),
                        'pred_sem_seg': PixelData(data=torch.zeros_like(lg, dtype=torch.long))})
        return samples

    # ------------------------------------------------------------------ predictor API
    # What tools/predict.py, the web page and region prediction call on a segmentor: class
    # logits of a normalised image, their probabilities and labels, and the slide geometry
    # along which the predictor cuts a scene into tiles.
    model_type = 'HG-RSOVSSeg'

    @property
    def device(self) -> torch.device:
        return self.query_features.device

    @property
    def slide_crop(self) -> int:
        return test_cfg_slide(self.test_cfg)[0]

    @property
    def slide_stride(self) -> int:
        return test_cfg_slide(self.test_cfg)[1]

    @property
    def logit_channels(self) -> int:
        return self.num_classes

    @torch.no_grad()
    def image_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class logits B×N×H×W (synonyms already reduced), whole or slide as `test_cfg`."""
        return self.inference(inputs, None)

    def class_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """N×H×W logits → probabilities (softmax over the classes)."""
        return torch.softmax(logits, dim=0)

    def labels(self, probs: torch.Tensor) -> torch.Tensor:
        return probs.argmax(dim=0, keepdim=True)

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs)

    def train(self, mode: bool = True):
        """The frozen CLIP stays in eval mode while the decoder trains."""
        super().train(mode)
        if not self.image_trainable:
            self.image_encoder.eval()
        return self

    # ------------------------------------------------------------------ checkpoints
    def _fill_frozen_clip(self, state_dict, prefix, *args):
        """Checkpoints leave the frozen encoder out: load it from the model as built."""
        for name, p in self.image_encoder.named_parameters():
            key = f'{prefix}image_encoder.{name}'
            if not p.requires_grad and key not in state_dict:
                state_dict[key] = p.detach()


def _drop_frozen_clip(module, state_dict, prefix, local_metadata):
    for name, p in module.image_encoder.named_parameters():
        if not p.requires_grad:
            state_dict.pop(f'{prefix}image_encoder.{name}', None)
    return state_dict


def test_cfg_slide(test_cfg: dict | None) -> tuple[int, int]:
    """(crop, stride) of an mmseg test_cfg as the predictor cuts tiles: crop 0 in whole mode."""
    test_cfg = test_cfg or {}
    stride = _pair(test_cfg.get('stride', 341))[0]
    if test_cfg.get('mode', 'whole') != 'slide':
        return 0, stride
    return _pair(test_cfg.get('crop_size', 512))[0], stride


def slide_test_cfg(crop: int, stride: int | None = None) -> dict:
    """The test_cfg of the predictor's --slide-crop/--slide-stride (crop 0: whole image;
    no stride: two thirds of the crop, mmseg's usual ratio)."""
    if not crop:
        return dict(mode='whole')
    return dict(mode='slide', crop_size=crop, stride=stride or max(crop * 2 // 3, 1))


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))
