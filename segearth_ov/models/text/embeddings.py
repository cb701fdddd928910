"""Class-name files and CLIP text embeddings, with an on-disk cache.

A class-name file has one class per line; a line may hold comma-separated synonyms
(`building,roof,house`), each a *query*. Each query is put into the 80 OpenAI ImageNet
templates, encoded, L2-normalised, averaged and normalised again (docs/method.md §1).
The result depends only on the text weights, the names and the templates, so it is cached
on disk under a key made of those three.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ...utils.files import atomic_path

logger = logging.getLogger('segearth_ov')


@dataclass(frozen=True)
class ClassNames:
    """The classes (one per line) and their queries (synonyms flattened)."""
    classes: tuple[tuple[str, ...], ...]

    @property
    def queries(self) -> list[str]:
        return [q for syn in self.classes for q in syn]

    @property
    def query_idx(self) -> list[int]:
        return [i for i, syn in enumerate(self.classes) for _ in syn]

    @property
    def names(self) -> list[str]:
        """A display name per class: its first synonym."""
        return [syn[0] for syn in self.classes]


def parse_class_lines(lines: list[str], source: str = 'class list') -> ClassNames:
    """Parse class lines; blank lines inside, empty synonyms and duplicates are errors."""
    lines = [ln.rstrip('\r\n') for ln in lines]
    while lines and not lines[-1].strip():   # trailing newlines at the end of a file are fine
        lines.pop()
    if not lines:
        raise ValueError(f'{source} is empty: write one class per line, synonyms separated '
                         'by commas (e.g. "building,roof,house")')
    classes, seen = [], {}
    for no, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f'{source}, line {no}: blank line. Each line is a class and its '
                             'index is its label value; remove the blank line.')
        names = [n.strip() for n in line.split(',')]
        if any(not n for n in names):
            raise ValueError(f'{source}, line {no}: empty name in {line!r} (stray comma?)')
        for n in names:
            if n in seen:
                raise ValueError(f'{source}, line {no}: name {n!r} already used on line '
                                 f'{seen[n]}; each name must belong to one class')
            seen[n] = no
        classes.append(tuple(names))
    return ClassNames(tuple(classes))


def load_class_names(name_path: str | os.PathLike | list[str] | tuple[str, ...]) -> ClassNames:
    """Read a class-name file, or take the lines directly from a list of strings."""
    if isinstance(name_path, (list, tuple)):
        return parse_class_lines(list(name_path))
    path = Path(name_path)
    if not path.is_file():
        raise FileNotFoundError(f'class-name file not found: {path}. It must list one class '
                                'per line (synonyms comma-separated), e.g. configs/cls_openearthmap.txt')
    data = path.read_bytes()
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b'\n') + 1
        raise ValueError(f'class-name file {path}: not UTF-8 text (byte 0x{data[err.start]:02x} '
                         f'on line {line}); save it as UTF-8') from None
    return parse_class_lines(text.splitlines(), source=str(path))


def openai_templates():
    from open_clip import OPENAI_IMAGENET_TEMPLATES
    return OPENAI_IMAGENET_TEMPLATES


@torch.no_grad()
def encode_text(model, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's `encode_text`, run on the context truncated after the last EOT token.

    Exact: the causal mask means tokens after the EOT token cannot change its feature.
    Falls back to `model.encode_text` for text towers it does not know.
    """
    needed = ('token_embedding', 'positional_embedding', 'transformer', 'ln_final')
    if (not all(hasattr(model, n) for n in needed) or getattr(model, 'attn_mask', None) is None
            or getattr(model, 'text_pool_type', None) != 'argmax'):
        return model.encode_text(tokens)
    from open_clip.transformer import text_global_pool
    n = int(tokens.argmax(dim=-1).max()) + 1   # up to the last end-of-text token
    tokens = tokens[:, :n]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:n].to(cast)
    x = model.transformer(x, attn_mask=model.attn_mask[:n, :n])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, 'argmax')
    proj = model.text_projection
    if proj is not None:
        x = proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
    return x


class TextEmbedder:
    """Query embeddings T (Q×C) for a CLIP model, cached on disk.

    The cache key hashes the text tower's weights, the tokenizer, the queries and the
    templates: a changed class list or other weights never reuse a stale entry.
    """

    def __init__(self, model, tokenizer, cache_dir: str | os.PathLike | None = None,
                 templates=None, weights_file: str | os.PathLike | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.templates = tuple(templates or openai_templates())
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.weights_file = weights_file
        self._weights_hash = None
        self.last_from_cache = False

    def weights_fingerprint(self) -> str:
        """Identifies the text weights.

        With `weights_file`: its resolved path, size and modification time plus the
        architecture (cheap, so a cached start stays well under a second). Otherwise a hash
        of every text-side tensor.
        """
        if self._weights_hash is None and self.weights_file is not None:
            st = os.stat(self.weights_file)
            arch = {k: tuple(v.shape) for k, v in self.model.state_dict().items()
                    if not k.startswith('visual.')}
            ident = f'{os.path.realpath(self.weights_file)}:{st.st_size}:{st.st_mtime_ns}:{arch}'
            self._weights_hash = hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()
        if self._weights_hash is None:
            h = hashlib.blake2b(digest_size=16)
            for name, t in sorted(self.model.state_dict().items()):
                if name.startswith('visual.'):
                    continue
                h.update(name.encode())
                h.update(t.detach().cpu().contiguous().float().numpy().tobytes())
            self._weights_hash = h.hexdigest()
        return self._weights_hash

    def cache_key(self, queries: list[str]) -> str:
        prompts = [t('{}') for t in self.templates]
        payload = json.dumps({'weights': self.weights_fingerprint(), 'queries': queries,
                              'templates': prompts,
                              'tokenizer': type(self.tokenizer).__name__,
                              'context': getattr(self.tokenizer, 'context_length', None)})
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    @torch.no_grad()
    def compute(self, queries: list[str], device, batch: int = 256) -> torch.Tensor:
        """All queries × templates in batches of similar token length (less padding)."""
        prompts = [t(q) for q in queries for t in self.templates]
        tokens = self.tokenizer(prompts).to(device)
        order = torch.argsort(tokens.argmax(dim=-1))   # EOT position = prompt length
        feats = torch.empty(len(prompts), 0, device=device)
        for i in range(0, len(prompts), batch):
            idx = order[i:i + batch]
            f = encode_text(self.model, tokens[idx]).float()
            if feats.shape[1] == 0:
                feats = torch.empty(len(prompts), f.shape[1], device=device)
            feats[idx] = f
        feats = feats / feats.norm(dim=-1, keepdim=True)
        feats = feats.view(len(queries), len(self.templates), -1).mean(dim=1)
        return feats / feats.norm(dim=-1, keepdim=True)

    def __call__(self, queries: list[str], device='cpu') -> torch.Tensor:
        self.last_from_cache = False
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / f'{self.cache_key(queries)}.pt'
            if path.is_file():
                try:
                    cached = torch.load(path, map_location=device, weights_only=True)
                    if cached['queries'] == queries:
                        self.last_from_cache = True
                        return cached['embeddings'].to(device)
                except Exception as err:  # a truncated or foreign file: recompute, overwrite
                    logger.warning('ignoring unreadable text-embedding cache %s (%s)', path, err)
        emb = self.compute(queries, device)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # atomic: a concurrent reader never sees half a file
                with atomic_path(path) as tmp:
                    torch.save({'queries': queries, 'embeddings': emb.cpu()}, tmp)
            except OSError as err:
                logger.warning('could not write text-embedding cache %s (%s)', path, err)
        return emb
