"""lstmkit: LSTM networks, correct and fast, with a Keras-style face and honest task kits."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lstmkit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
