from .embeddings import ClassNames, load_class_names, TextEmbedder  # noqa: F401
