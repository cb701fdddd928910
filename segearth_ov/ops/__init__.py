"""Optional compiled kernels; every one has a PyTorch twin that is the fallback and the oracle."""
