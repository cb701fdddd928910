from .presets import PRESETS, BackbonePreset, get_preset, normalize_vit_type  # noqa: F401
from .weights import RANDOM, WeightsNotFoundError, resolve_weights  # noqa: F401
from .attention import ATTENTIONS, MODEL_TYPES  # noqa: F401
from .clip_vit import CLIPViTFeatures  # noqa: F401
from .builder import build_clip  # noqa: F401
