"""The one error tree of `model_export`.

    ModelExportError
    ├── DataError             input data that cannot be read or used (bad CSV, missing channel, NaN, too few rows)
    ├── ExportError           a model that cannot be fitted or exported
    │   └── ParityError       the ONNX graph does not reproduce the scikit-learn scores
    └── BundleError           a bundle that cannot be read or written
        ├── UnsafeBundle      a path escaping the bundle, a symlink, a special file or an unexpected file
        └── TamperedBundle    a digest or signature that does not match (also: unknown signer)

Errors of `contracts` (SignatureError, PayloadError) are translated into these at the boundary.
"""

from __future__ import annotations


class ModelExportError(Exception):
    """Base class of every error raised by `model_export`."""


class DataError(ModelExportError):
    """Data that cannot be read or turned into features."""


class ExportError(ModelExportError):
    """A model that cannot be fitted, calibrated or exported to ONNX."""


class ParityError(ExportError):
    """onnxruntime and scikit-learn disagree beyond the tolerance; the bundle is not written."""


class BundleError(ModelExportError):
    """A bundle that cannot be read, written or trusted."""


class UnsafeBundle(BundleError):
    """A bundle whose layout is unsafe: extra files, symlinks, special files or escaping paths."""


class TamperedBundle(BundleError):
    """A bundle whose model digest, manifest or signature does not verify."""
