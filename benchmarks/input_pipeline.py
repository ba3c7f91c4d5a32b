"""strata's training input pipeline alone: the tf.data pipeline `strata train` feeds to `fit`,
built through strata's own API (compose + validate, `load_data`, `DataBundle.dataset`) and
iterated without a model, in examples per second in the median epoch of epochs 2.. (the first
fills caches).

    python benchmarks/input_pipeline.py --output out.json -- data=csv data.path=t.csv data.target=label
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    import strata.train  # noqa: F401  (registers strata's resolvers)
    from strata.config.validate import validate

    with initialize_config_module(config_module="strata.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=args.overrides, return_hydra_config=True)
    OmegaConf.set_struct(cfg, False)
    cfg.paths.run_dir = str(args.output.parent / "pipeline_run")  # no Hydra run: give the path a value
    cfg.pop("hydra")
    config = validate(cfg)

    from strata.data.loading import load_data
    from strata.tensorflow_import import import_tensorflow
    from strata.training import environment

    environment.configure(config.trainer, config.seed)
    tf = import_tensorflow()
    start = time.perf_counter()
    bundle = load_data(config)
    load_seconds = time.perf_counter() - start
    ds = bundle.dataset("train", config.trainer.batch_size, training=True)

    @tf.function
    def drain(ds):
        # iterated in a graph, as `fit` does: Python's per-batch cost is not the pipeline's
        n = tf.constant(0, tf.int64)
        for _x, y in ds:
            n += tf.shape(y, out_type=tf.int64)[0]
        return n

    seconds, cpu, examples = [], [], 0
    for _ in range(args.epochs):
        start, cpu_start = time.perf_counter(), time.process_time()
        examples = int(drain(ds))
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    steady, steady_cpu = seconds[1:] or seconds, cpu[1:] or cpu
    result = {
        "examples": examples,
        "epoch_seconds": seconds,
        "examples_per_second": examples / statistics.median(steady),  # the median epoch, as run.py
        "best_examples_per_second": examples / min(steady),
        "examples_per_cpu_second": examples * len(steady_cpu) / sum(steady_cpu) if sum(steady_cpu) else None,
        "load_data_seconds": load_seconds,
    }
    args.output.write_text(json.dumps(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
