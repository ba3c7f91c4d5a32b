"""model=pretrained through the real CLI: a Keras Applications backbone and a KerasHub preset folder
(made here, tiny and random) behind raw inputs, the two fine-tuning phases, a kill in phase 2,
downloads without a network, and the two offline experiments."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, assert_user_error, strata

YELP = ROOT / "pipelines" / "datasets" / "sentiment" / "yelp_labelled.txt"
# a proxy on a closed loopback port: every download fails at once, as on a machine with no network
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
# what a test that reads neither the test split's metrics nor report.html skips; 256 training
# examples (the final metrics pass over the whole training split; debug=fast trains on 3 batches)
UNREAD = ["trainer.evaluate_test=false", "report=false", "data.limit=256"]
QUICK = ["trainer.steps_per_epoch=2", "trainer.validation_steps=1", "trainer.batch_size=16", "data.limit=64",
         "callbacks.early_stopping=null", "trainer.evaluate_test=false", "report=false"]


@pytest.fixture(scope="session")
def bert_preset(tmp_path_factory) -> Path:
    """A KerasHub BERT preset folder: 2 layers, hidden size 32, a word vocabulary of the Yelp
    sentences, random weights (`save_to_preset`), as a user would save one to pass by path."""
    import keras_hub

    folder = tmp_path_factory.mktemp("presets") / "tiny_bert"
    words = collections.Counter()
    for line in YELP.read_text(encoding="utf-8").splitlines():
        words.update(re.findall(r"[a-z']+|[^\sa-z']", line.split("\t")[0].lower()))
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [w for w, _ in words.most_common(1500)]
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), num_layers=2, num_heads=2,
                                             hidden_dim=32, intermediate_dim=64, max_sequence_length=64)
    backbone.save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(str(folder))
    return folder


def _mobilenet(weights=None):
    import keras

    return keras.applications.MobileNetV3Small(include_top=False, weights=weights, input_shape=(32, 32, 3),
                                               pooling="avg", name="backbone", include_preprocessing=True)


@pytest.fixture(scope="session")
def mobilenet_weights(tmp_path_factory) -> Path:
    """A weights file of strata's mobilenet_v3_small backbone, as a user's own pretrained weights
    passed by model.weights=<file>: random kernels (seeded), BatchNormalization statistics
    measured on digits (a random network with the initial statistics passes no gradient through
    its 11 blocks in inference mode)."""
    import keras
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(7)
    model = _mobilenet()
    batch_norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batch_norms]
    for layer in batch_norms:
        layer.momentum = 0.0  # one pass in training mode sets the statistics to the batch's
    images = np.repeat(load_digits().images[:128, :, :, None] * 16.0, 3, axis=-1).astype("float32")
    model(keras.ops.image.resize(images, (32, 32)), training=True)
    for layer, momentum in zip(batch_norms, momenta):
        layer.momentum = momentum
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v3_small.weights.h5"
    model.save_weights(path)
    return path


def _load(run: Path):
    import keras

    from strata import layers  # noqa: F401  (registers strata's layers)

    return keras.saving.load_model(run / "model.keras", safe_mode=True)


@pytest.fixture(scope="session")
def resnet_preset(tmp_path_factory) -> Path:
    """A KerasHub image preset folder: a two-stage ResNet and its image converter (32x32), random."""
    import keras_hub

    folder = tmp_path_factory.mktemp("presets") / "tiny_resnet"
    keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(None, None, 3),
    ).save_to_preset(str(folder))
    keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255).save_to_preset(str(folder))
    return folder


def test_applications_backbone_exports_a_saved_model_that_takes_raw_8x8_images(tmp_path):
    run = tmp_path / "run"
    result = strata("train", "data=digits", "model=pretrained", "model.backbone=mobilenet_v3_small",
                    "model.weights=null", "debug=fast", "export.format=saved_model", *UNREAD, f"hydra.run.dir={run}",
                    cwd=tmp_path)
    assert result.code == 0, result.text
    assert "resized to 32x32" in result.out
    _check_raw_digits_saved_model(run)


def test_keras_hub_image_preset_folder_fine_tunes_behind_raw_images(tmp_path, resnet_preset):
    run = tmp_path / "run"
    result = strata("train", "data=digits", "model=pretrained", f"model.backbone={resnet_preset}", "model.weights=null",
                    "debug=fast", "trainer.fine_tune.epochs=1", "export.format=saved_model", f"hydra.run.dir={run}",
                    cwd=tmp_path)
    assert result.code == 0, result.text
    assert "epoch 2/2" in result.out and "fine-tuning: all backbone layers unfrozen" in result.out
    _check_raw_digits_saved_model(run)


def _check_raw_digits_saved_model(run: Path) -> None:
    """The run's SavedModel takes raw 8x8x1 digits (0-16) and predicts what its model.keras does."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    images = load_digits().images[:6].astype("float32")[..., None]  # raw 0-16 pixel values, 8x8x1
    serve = tf.saved_model.load(str(run / "export" / "saved_model")).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["image"]
    assert serve.structured_input_signature[1]["image"].shape.as_list() == [None, 8, 8, 1]
    served = next(iter(serve(image=tf.constant(images)).values())).numpy()
    assert served.shape == (6, 10)
    np.testing.assert_allclose(served.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(served, _load(run).predict(images, verbose=0), atol=1e-5)


def test_bert_preset_folder_trains_on_raw_sentences_and_exports_them(tmp_path, bert_preset):
    run = tmp_path / "run"
    result = strata("train", "data=text", "model=pretrained", f"model.backbone={bert_preset}", "debug=fast",
                    "export.format=saved_model", "trainer.fine_tune.epochs=1", *UNREAD, f"hydra.run.dir={run}",
                    cwd=tmp_path)
    assert result.code == 0, result.text
    assert "(BertBackbone), texts cut to 64 tokens" in result.out  # the preset's own maximum
    assert "epoch 2/2" in result.out and "fine-tuning: all backbone layers unfrozen" in result.out

    sentences = ["The food was great, I loved it", "Terrible service, never again.", "ok"]
    (tmp_path / "new.txt").write_text("\n".join(sentences) + "\n")
    predicted = strata("predict", f"run={run}", f"input={tmp_path / 'new.txt'}", "output=-", cwd=tmp_path)
    assert predicted.code == 0, predicted.text
    rows = [line.split(",") for line in predicted.out.strip().splitlines()[1:]]
    from_predict = np.array([[float(v) for v in row[-2:]] for row in rows])[:, 1]

    # the SavedModel takes raw strings; the tokenizer's ops come from TensorFlow Text, which a
    # TensorFlow program imports (TF Serving has them built in)
    script = (
        "import sys, json, tensorflow as tf, tensorflow_text\n"
        f"f = tf.saved_model.load({str(run / 'export' / 'saved_model')!r}).signatures['serving_default']\n"
        "name = list(f.structured_input_signature[1])[0]\n"
        f"out = f(**{{name: tf.constant([[s] for s in {sentences!r}])}})\n"
        "print(json.dumps({'name': name, 'p': next(iter(out.values())).numpy().ravel().tolist()}))\n"
    )
    served = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert served.returncode == 0, served.stderr
    answer = json.loads(served.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(answer["p"], from_predict, atol=1e-5)


def test_frozen_backbone_is_bit_identical_after_phase_1_and_changes_in_phase_2(tmp_path, mobilenet_weights):
    import keras

    source = _mobilenet()
    source.load_weights(mobilenet_weights)
    start = {v.path: v.numpy() for v in source.weights}
    common = ["data=digits", "model=pretrained", f"model.weights={mobilenet_weights}", "export=none", *QUICK]

    phase1 = strata("train", *common, "trainer.epochs=1", f"hydra.run.dir={tmp_path / 'p1'}", cwd=tmp_path)
    assert phase1.code == 0, phase1.text
    frozen = _load(tmp_path / "p1").get_layer("backbone")
    assert {v.path: v.numpy().tobytes() for v in frozen.weights} == {k: v.tobytes() for k, v in start.items()}

    phase2 = strata("train", *common, "trainer.epochs=1", "trainer.fine_tune.epochs=1", "trainer.fine_tune.learning_rate=1e-4",
                    f"hydra.run.dir={tmp_path / 'p2'}", cwd=tmp_path)
    assert phase2.code == 0, phase2.text
    assert "BatchNormalization layers kept frozen" in phase2.out
    tuned = _load(tmp_path / "p2").get_layer("backbone")
    batch_norm = {v.path for layer in tuned._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)
                  for v in layer.weights}
    changed = [v.path for v in tuned.weights if not np.array_equal(v.numpy(), start[v.path])]
    convolutions = [v.path for v in tuned.weights if v.path not in batch_norm and len(v.shape) == 4]
    assert set(convolutions) <= set(changed), "every convolution kernel trains in phase 2"
    assert not batch_norm & set(changed), "a pretrained backbone's BatchNormalization stays as it was"


def test_a_two_worker_job_killed_in_phase_2_resumes_in_phase_2(tmp_path, bert_preset):
    """A two-task SLURM job whose chief is SIGKILLed once phase 2 has backed up an epoch of its
    own: started again, both workers resume in phase 2, with phase 2's optimizer state."""
    from tests.test_training_multi_worker import _killed_and_restarted

    epochs, tune, steps = 1, 3, 6
    args = ["data=text", "model=pretrained", f"model.backbone={bert_preset}", f"trainer.epochs={epochs}",
            f"trainer.fine_tune.epochs={tune}", f"trainer.steps_per_epoch={steps}", "trainer.batch_size=16",
            "trainer.validation_steps=1", "data.limit=128",
            "callbacks.early_stopping=null", "trainer.evaluate_test=false", "report=false"]
    run = _killed_and_restarted(tmp_path, args, kill=0, after=epochs + 1, total=epochs + tune, phase2=True)
    log = (run / "train.log").read_text()
    assert "resuming in phase 2" in log and "backbone layers unfrozen" in log
    assert "resuming in phase 2" in (run / "workers" / "1.log").read_text()  # the other worker too
    model = _load(run)
    assert model.get_layer("backbone").trainable
    # phase 2's optimizer continued from the backup: its steps are phase 2's, both processes'
    assert int(model.optimizer.iterations) == tune * steps


def test_downloads_without_a_network_are_a_user_error_naming_the_local_alternative(tmp_path):
    env = {**OFFLINE, "KERAS_HOME": str(tmp_path / "keras"), "KAGGLEHUB_CACHE": str(tmp_path / "kaggle")}
    image = strata("train", "data=digits", "model=pretrained", "model.backbone=resnet50", "model.weights=imagenet",
                   "debug=fast", f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path, env=env)
    assert_user_error(image, "model.weights=imagenet", "no network", "model.weights=<the file>", "model.weights=null")
    assert "resnet50_weights" in image.err  # the file to fetch where there is a network
    text = strata("train", "data=text", "model=pretrained", "model.backbone=bert_tiny_en_uncased", "model.weights=preset",
                  "debug=fast", f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path, env=env)
    assert_user_error(text, "model.backbone=bert_tiny_en_uncased", "no network", "model.backbone=<folder>")


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["model.backbone=mobilenet_v3_smal"], ["model.backbone", "Did you mean 'mobilenet_v3_small'"]),
        (["model.backbone=resnet5"], ["model.backbone", "Did you mean 'resnet50'"]),
        (["model.backbone=./no/such/preset"], ["model.backbone", "no such preset folder"]),
        (["model.weights=missing.weights.h5"], ["model.weights", "no such file: missing.weights.h5"]),
        (["model=mlp", "trainer.fine_tune.epochs=2"], ["trainer.fine_tune.epochs", "model=pretrained"]),
        (["trainer.fine_tune.epochs=2", "data.split.folds=3"], ["trainer.fine_tune.epochs", "data.split.folds=3"]),
        (["trainer.fine_tune.layers=0"], ["trainer.fine_tune.layers", "'all' or a whole number >= 1"]),
    ],
)
def test_pretrained_config_errors_come_before_tensorflow(tmp_path, overrides, fragments):
    args = ["data=digits", "model=pretrained", *overrides] if overrides[0] != "model=mlp" else ["data=digits", *overrides]
    result = strata("train", *args, cwd=tmp_path)
    assert_user_error(result, *fragments)
    assert "data:" not in result.out  # stopped before loading any data


def test_the_two_experiments_train_offline_from_random_weights(tmp_path):
    # `++`: a sweep composes its own config before any experiment is chosen, where model (cnn) has no `weights`
    # one epoch per phase (the experiments' own 10 and 5 fine-tuning epochs are their quality, not their working)
    result = strata("train", "-m", "experiment=digits_finetune,sentiment_bert", "++model.weights=null", "debug=fast",
                    "trainer.fine_tune.epochs=1", *UNREAD, f"hydra.sweep.dir={tmp_path}", "hydra.sweep.subdir=${task_name}", cwd=tmp_path,
                    env={**OFFLINE, "KERAS_HOME": str(tmp_path / "keras"), "KAGGLEHUB_CACHE": str(tmp_path / "kaggle")})
    assert result.code == 0, result.text
    for name, kind in (("digits_finetune", "multiclass"), ("sentiment_bert", "binary")):
        log = (tmp_path / name / "train.log").read_text()
        assert "fine-tuning:" in log, log  # both phases ran
        assert json.loads((tmp_path / name / "task.json").read_text())["task"]["kind"] == kind
        assert "accuracy" in json.loads((tmp_path / name / "metrics.json").read_text())["validation"]
    assert "WordPiece vocabulary" in (tmp_path / "sentiment_bert" / "train.log").read_text()
