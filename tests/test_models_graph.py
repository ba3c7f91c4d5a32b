"""The free-form layer graph: named nodes, several inputs, repeats, and its config errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from strata.errors import ConfigError
from tests.conftest import assert_user_error, compose_config, strata


def build(*overrides: str, data=("data.name=iris", "data.as_images=false")):
    from strata.data.loading import load_data
    from strata.models.builder import build_model

    config = compose_config("model=graph", *data, *overrides)
    return build_model(config.model, load_data(config))


def test_residual_blocks_repeat_with_numbered_names():
    model = build()  # the preset: a stem and two residual blocks
    names = {layer.name for layer in model.layers}
    assert {"stem", "hidden_1", "projection_2", "residual_1", "residual_2"} <= names
    add = model.get_layer("residual_2")
    parents = {node.operation.name for node in add._inbound_nodes[0].parent_nodes}
    assert "projection_2" in parents and len(parents) == 2  # the block's input and its last projection


def test_nodes_read_features_by_name_and_concatenate():
    model = build(
        "model.layers=[{type:Concatenate,inputs:[petal_length_cm,petal_width_cm],name:petals},"
        "{type:Dense,units:4,activation:step,inputs:[petals],name:gate},"
        "{type:Concatenate,inputs:[gate,features]},{type:Dense,units:8,activation:gelu}]"
    )
    assert model.get_layer("petals").output.shape == (None, 2)
    assert model.get_layer("gate").activation.__name__ == "step"
    assert model.output.shape == (None, 3)


def test_wrapped_layers_and_conv_graphs_on_images():
    model = build(
        "model.layers=[{type:Conv2D,filters:8,kernel_size:3,padding:same,activation:relu},"
        "{type:Reshape,target_shape:[8,64]},"
        "{type:Bidirectional,layer:{type:GRU,units:4}}]",
        data=(),
    )
    assert model.output.shape == (None, 10)
    assert any(isinstance(layer, keras.layers.Bidirectional) for layer in model.layers)


@pytest.mark.parametrize(
    ("layers", "fragments"),
    [
        ("[{type:Dnse,units:8}]", ("model.layers[0].type", "unknown layer 'Dnse'", "Did you mean 'Dense'?")),
        ("[{type:Dense,unitz:8}]", ("model.layers[0].unitz", "unknown argument of Dense", "Did you mean 'units'?")),
        ("[{type:Dense,units:8,activation:rleu}]", ("model.layers[0].activation", "Did you mean 'relu'?")),
        ("[{repeat:2,layers:[{type:Dense,units:8},{type:Add,inputs:[block_input,hiden]}]},{type:Dense,units:2,name:hidden}]",
         ("model.layers[0].layers[1].inputs", "unknown node 'hiden'")),
        ("[{type:Dense,units:8},{type:Add,inputs:[features]}]", ("model.layers[1]", "Add")),
        ("[{type:Dense,units:-3}]", ("model.layers[0]", "Dense(units=-3)")),
    ],
)
def test_mistakes_are_config_errors_with_the_key_path(layers, fragments):
    with pytest.raises(ConfigError) as info:
        build(f"model.layers={layers}")
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_structure_is_checked_with_the_schema_before_tensorflow():
    with pytest.raises(ConfigError, match=r"model.layers\[0\].type: required key is missing"):
        compose_config("model=graph", "model.layers=[{units:8}]")
    with pytest.raises(ConfigError, match=r"model.layers\[0\].repeat: expected a count"):
        compose_config("model=graph", "model.layers=[{repeat:0,layers:[{type:Dense,units:2}]}]")


def test_cli_refuses_a_misspelt_argument_before_training(tmp_path):
    result = strata("train", "model=graph", "data.name=iris", "data.as_images=false",
                    "model.layers=[{type:Dense,units:8},{type:Dropout,rat:0.1}]", f"hydra.run.dir={tmp_path / 'run'}",
                    cwd=tmp_path)
    assert_user_error(result, "model.layers[1].rat", "Dropout", "Did you mean 'rate'?")
    assert "epoch 1" not in result.text
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_step_activation_by_name_in_the_mlp_preset():
    from strata.data.loading import load_data
    from strata.models.builder import build_model

    config = compose_config("model=mlp", "data.name=iris", "data.as_images=false", "model.activation=step:0.2")
    model = build_model(config.model, load_data(config))
    steps = [layer for layer in model.layers if type(layer).__name__ == "Step"]
    assert steps and steps[0].threshold == pytest.approx(0.2)
    x = {k: v[:4] for k, v in load_data(config).splits["train"].x.items()}
    probs = model.predict(x, verbose=0)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
