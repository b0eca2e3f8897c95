"""The model registry: verified, immutable model versions, published into the TUF repository."""
