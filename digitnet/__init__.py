"""digitnet: the MNIST models of Wan Zhu's paper, trained with Keras 3 and shipped for deployment."""

__version__ = "0.1.0"
