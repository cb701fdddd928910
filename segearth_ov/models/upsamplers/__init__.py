from .jbu import (JBULearnedRange, JBUOne, JBUStack, BilinearUp, UPSAMPLERS,  # noqa: F401
                  build_upsampler, load_upsampler_checkpoint)
