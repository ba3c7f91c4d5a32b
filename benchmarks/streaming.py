"""A CSV trained from memory and streamed (`strata.data.csv_streaming`): the same regression
table, the same config but for `data.in_memory_max_mb`, the same small Keras MLP fitted on
`bundle.dataset("train", ...)`, in training examples per second of the last epoch (the first
one builds the step function and fills caches) and peak resident memory. Each path runs in a
process of its own (this script, `--path`), so each peak RSS is that path's alone.

    python benchmarks/streaming.py --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--csv", type=Path, help="train on this CSV (target column 'target') instead of a new one")
    parser.add_argument("--path", choices=["memory", "stream"], help="(internal) run one path in this process")
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    if args.path:
        print("RESULT " + json.dumps(_fit(args.csv, args.path, args.epochs, args.batch_size)), flush=True)
        return

    with tempfile.TemporaryDirectory() as folder:
        csv = args.csv
        if csv is None:
            from synthetic_data import make_regression_csv

            start = time.perf_counter()
            csv = make_regression_csv(Path(folder) / "table.csv", args.rows)
            print(f"wrote {args.rows:,} rows ({csv.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - start:.0f} s", flush=True)
        results = {}
        for path in ("memory", "stream"):
            command = [sys.executable, __file__, "--path", path, "--csv", str(csv),
                       "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
            proc = subprocess.run(command, capture_output=True, text=True)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                sys.exit(f"{path}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            results[path] = json.loads(line[len("RESULT "):])
    memory, stream = results["memory"], results["stream"]
    results["ratio"] = stream["examples_per_second"] / memory["examples_per_second"]
    for path in ("memory", "stream"):
        r = results[path]
        print(f"{path:>6}: {r['train_rows']:,} training rows, load {r['load_seconds']:.1f} s, epochs "
              f"{', '.join(f'{s:.1f} s' for s in r['epoch_seconds'])}, {r['examples_per_second']:,.0f} examples/s, "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB")
    print(f"streamed / in memory: {results['ratio']:.2f}")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")


def _fit(csv: Path, path: str, epochs: int, batch_size: int) -> dict:
    import resource

    from strata.tensorflow_import import import_tensorflow

    import_tensorflow()  # strata's TensorFlow set-up, before Keras loads
    import keras

    from strata.data.csv_source import CsvConfig, load

    keras.utils.set_random_seed(0)
    cfg = CsvConfig(path=str(csv), target="target", in_memory_max_mb=1e9 if path == "memory" else 1.0)
    start = time.perf_counter()
    bundle = load(cfg, 0)
    load_seconds = time.perf_counter() - start
    assert (type(bundle).__name__ == "StreamingCsvBundle") == (path == "stream")
    inputs = {f.name: keras.Input((1,), name=f.name) for f in bundle.features}
    hidden = keras.layers.Concatenate()(list(inputs.values()))
    for units in (64, 64):
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer="adam", loss="mse")

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    timer = Timer()
    model.fit(bundle.dataset("train", batch_size, training=True), epochs=epochs, verbose=0, callbacks=[timer])
    rows = bundle.size("train")
    return {
        "path": path, "train_rows": rows, "load_seconds": load_seconds, "epoch_seconds": timer.seconds,
        "examples_per_second": rows / timer.seconds[-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    main()
