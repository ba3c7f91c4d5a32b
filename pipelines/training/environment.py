"""The process-wide setup of a run: TensorFlow's logging, seeds, determinism, precision,
accelerator and distribution strategy."""

from __future__ import annotations

import contextlib
import logging

from strata.errors import ConfigError
from strata.tensorflow_import import import_tensorflow

log = logging.getLogger(__name__)

# set once `configure` has run in this process (a later call clears Keras's state first)
_configured = False


def configure(trainer, seed: int):
    """Applies seeds, determinism, logical devices, precision and returns the strategy."""
    tf = import_tensorflow()
    import keras

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    global _configured
    if _configured:  # a sweep's trials share one process: start each from a clean slate
        keras.backend.clear_session()  # (a fresh process has nothing to clear; it would cost ~0.3 s)
    _configured = True
    if trainer.accelerator == "cpu":
        with contextlib.suppress(RuntimeError):  # devices already initialized (tests): keep them
            tf.config.set_visible_devices([], "GPU")
    if trainer.logical_cpu_devices and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * trainer.logical_cpu_devices
            )
        except RuntimeError:  # already initialized in this process (tests): keep what is there
            pass
    strategy = _strategy(trainer, tf)
    keras.utils.set_random_seed(seed)
    if trainer.deterministic:
        tf.config.experimental.enable_op_determinism()
    if trainer.precision == "mixed_float16" and not tf.config.list_logical_devices("GPU") and trainer.accelerator != "tpu":
        log.warning("trainer.precision=mixed_float16 without a GPU: it works, but is slow on CPUs; "
                    "use mixed_bfloat16 (recent CPUs, TPUs) or float32.")
    keras.mixed_precision.set_global_policy(trainer.precision)
    return strategy


def restart(trainer, seed: int) -> None:
    """Starts another model in this process as `configure` started the first (cross-validation's
    folds and final model): Keras's global state cleared, so layer names count from zero again,
    then the precision policy and the seeds set again. The strategy is kept."""
    import keras

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(trainer.precision)
    keras.utils.set_random_seed(seed)


def _check_accelerator(trainer, tf) -> None:
    wanted = trainer.accelerator
    if wanted == "cpu" and trainer.strategy == "tpu":
        raise ConfigError("trainer.strategy=tpu needs trainer.accelerator=tpu or auto (got accelerator=cpu).")
    if wanted == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise ConfigError(
            "trainer.accelerator=gpu: TensorFlow sees no GPU on this machine "
            "(is the `gpu` extra installed and a CUDA driver present?). Use trainer.accelerator=auto or cpu."
        )
    if wanted == "tpu" and trainer.strategy not in ("tpu", "auto"):
        raise ConfigError("trainer.accelerator=tpu needs trainer.strategy=tpu (or auto).")


def _strategy(trainer, tf):
    _check_accelerator(trainer, tf)
    choice = trainer.strategy
    if choice == "auto":  # a job of several workers first: its workers' own GPUs are its replicas too
        from strata.training import multi_worker

        if trainer.accelerator == "tpu":
            choice = "tpu"
        elif multi_worker.is_multi_worker():
            choice = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            choice = "mirrored"
        elif trainer.logical_cpu_devices and trainer.logical_cpu_devices > 1:
            choice = "mirrored"
        else:
            choice = "none"
    if choice == "none":
        return tf.distribute.get_strategy()
    if choice == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        log.info("MirroredStrategy over %s", ", ".join(devices))
        return tf.distribute.MirroredStrategy(devices=devices)
    if choice == "multi_worker":
        from strata.training import multi_worker

        return multi_worker.strategy(trainer)
    if choice == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=trainer.tpu_address or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.NotFoundError) as ex:
            raise ConfigError(
                f"trainer.strategy=tpu: no TPU found ({str(ex).splitlines()[0]}). "
                "Set trainer.tpu_address to the TPU's name or grpc:// address, or train without a TPU "
                "(trainer=default, or trainer.strategy=auto trainer.accelerator=auto)."
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"trainer.strategy: unknown strategy {choice!r}")
