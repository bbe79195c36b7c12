# Sourced by the GPU scripts (gpu_check.sh, gpu_committee.sh) on the GPU machine lent here, which has JAX
# with CUDA 13 and no TensorFlow: installs the wheels in $1 (keras and its missing dependencies, namex and
# optree) to /tmp/site, sets Keras on JAX, and prints what runs there.
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$1"/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c "import jax, keras; print('keras', keras.__version__, 'on jax', jax.__version__, jax.devices())" || exit 1
