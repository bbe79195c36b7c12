from setuptools import find_packages, setup

setup(
    name="digitnet",
    version="0.1.0",
    description="MNIST digit models from 'Classification of MNIST Handwritten Digit Database using Neural Network', "
    "trained with Keras 3 / TensorFlow and exported for TF Serving and TFLite",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["digitnet", "digitnet.*"]),
    # The real MNIST IDX files travel with the package, so training works offline; so does the
    # piece judge that number reading weighs its cuts with.
    package_data={"digitnet": ["mnist/*.gz", "mnist/SHA256SUMS", "mnist/README.md", "serving/piece_judge.npz", "serving/pair_reader.npz", "serving/line_reader.tflite"]},
    include_package_data=True,
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.15,<4",
        "tensorflow-datasets>=4.9.10",
        # TFDS 4.9.10 needs it to prepare any dataset but does not declare it.
        "importlib_resources",
        "matplotlib>=3.8",
        "numpy>=1.26",
        "pillow>=10",
        "ai-edge-litert>=2.3",
    ],
    extras_require={
        # jax: tests/test_keras_backends.py runs the GPU machine's path (Keras on JAX, no TensorFlow) on the CPU.
        "test": ["pytest>=8", "hypothesis>=6.100", "playwright==1.65.2", "jax>=0.4.34"],
        "tensorboard": ["tensorboard==2.21.*"],
        # benchmarks/other_writers.py: the UCI digits (13 writers outside MNIST) ship inside scikit-learn.
        "benchmarks": ["scikit-learn>=1.6"],
    },
)
