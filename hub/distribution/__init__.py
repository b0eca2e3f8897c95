"""Model distribution: a TUF repository of bundles (python-tuf Metadata API) served as static files.

See docs/adr/0005-model-distribution.md for the roles, the keys and their rotation.
"""

from hub.distribution.keys import BUNDLES, OnlineSigners, generate_key_file, load_signer
from hub.distribution.repository import Expiry, TufRepository, bundle_target_path

__all__ = [
    "BUNDLES",
    "Expiry",
    "OnlineSigners",
    "TufRepository",
    "bundle_target_path",
    "generate_key_file",
    "load_signer",
]
