from .inference import init_segmentor, inference_image  # noqa: F401
