"""HG-RSOVSSeg's trained open-vocabulary decoder (paper: Huang et al., Remote Sens. 2026).

PEA image encoder, feature aggregation, text attention, hierarchical guided upsampling and
the per-class head; `segearth_ov.models.segmentors.hg_rsovsseg.HGRSOVSeg` puts them together.
"""
from .aggregation import FA_MODES, FeatureAggregation  # noqa: F401
from .decoder import HierarchicalDecoder  # noqa: F401
from .hgu import GuidanceUpsampler, HierarchicalGuidedUpsampling  # noqa: F401
from .pea import PEAViTEncoder, pea_positional_embedding, scale_layers  # noqa: F401
from .tam import TextAttentionModule, VisualGuidance  # noqa: F401
from .templates import TEMPLATE_SETS, get_templates  # noqa: F401
