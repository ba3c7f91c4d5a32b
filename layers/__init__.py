"""Custom Keras layers that strata configs can name.

Importing this package registers every layer (and strata's model classes) with Keras's
serialization (package `strata`), so `model.keras` files reload with `keras.saving.load_model`
once `layers` is imported, and SavedModels load with no strata code at all.
"""

from strata.layers.denormalize import Denormalize
from strata.layers.gan import GAN
from strata.layers.impute import Impute
from strata.layers.positional_embedding import PositionalEmbedding
from strata.layers.pretrained import BackbonePixels, PresetTextEncoder
from strata.layers.reconstruction_loss import ReconstructionLoss
from strata.layers.signed_log import SignedLog
from strata.layers.step import Step, step
from strata.layers.tabular import EnsembleInputs, EnsembleMean, PeriodicEncoding, PiecewiseLinearEncoding
from strata.layers.transformer_block import TransformerEncoderBlock
from strata.layers.two_tower import MatrixFactorization, TwoTowerRetrieval
from strata.layers.vae_sampling import VAESampling

__all__ = [
    "BackbonePixels",
    "Denormalize",
    "EnsembleInputs",
    "EnsembleMean",
    "GAN",
    "Impute",
    "MatrixFactorization",
    "PeriodicEncoding",
    "PiecewiseLinearEncoding",
    "PositionalEmbedding",
    "PresetTextEncoder",
    "ReconstructionLoss",
    "SignedLog",
    "Step",
    "TransformerEncoderBlock",
    "TwoTowerRetrieval",
    "VAESampling",
    "step",
]
