"""Retrieval models over raw user and item ids: a two-tower model trained with an in-batch
softmax, and biased matrix factorization of explicit ratings (a subclass: same ranking, export
and fallback, its own rating loss)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class Tower(keras.layers.Layer):
    """Ids (0: unknown) -> a vector: the id's embedding, beside the id's features when there are
    any (numeric columns as they are, each categorical column through its own embedding), then
    dense layers; of unit length with `normalize`.

    The features live in the layer as tables indexed by id (`set_features`), so a model serves
    from the raw id alone.

    Args:
        size: int. Ids, the unknown id 0 included.
        embedding_dim: int. Size of the id's embedding, of each categorical feature's and of the output.
        units: list of int. Dense ReLU layers after the embeddings (then one linear layer back to
            `embedding_dim`; also when there are features and no `units`).
        normalize: bool, default True.
        l2: float, default 0.0. L2 penalty of the id embedding.
        numeric: list of str. Names of the numeric features.
        categorical: dict of str to int. Each categorical feature's number of values (0: missing).

    Example:

    >>> import numpy as np
    >>> layer = Tower(3, 4, [], numeric=["age"], categorical={"colour": 2})
    >>> layer.set_features(np.array([[0.0], [1.0], [-1.0]]), np.array([[0], [1], [2]]))
    >>> tuple(layer(np.array([1, 2, 0])).shape)
    (3, 4)
    """

    def __init__(self, size, embedding_dim, units=(), normalize=True, l2=0.0, numeric=(), categorical=None, **kwargs):
        super().__init__(**kwargs)
        self.size, self.embedding_dim, self.units = int(size), int(embedding_dim), [int(u) for u in units]
        self.normalize, self.l2 = bool(normalize), float(l2)
        self.numeric, self.categorical = [str(n) for n in numeric], {str(k): int(v) for k, v in (categorical or {}).items()}
        regularizer = keras.regularizers.L2(self.l2) if self.l2 else None
        self.embedding = keras.layers.Embedding(self.size, self.embedding_dim, embeddings_regularizer=regularizer,
                                                name="embedding")
        self.feature_embeddings = [keras.layers.Embedding(n + 1, self.embedding_dim, name=f"{name}_embedding")
                                   for name, n in self.categorical.items()]
        self.hidden = [keras.layers.Dense(n, activation="relu", name=f"dense{i}") for i, n in enumerate(self.units)]
        features = bool(self.numeric or self.categorical)
        self.output_layer = keras.layers.Dense(self.embedding_dim, name="output") if (self.units or features) else None
        self.numeric_table = self.add_weight(shape=(self.size, max(1, len(self.numeric))), initializer="zeros",
                                             trainable=False, name="numeric_features")
        self.categorical_table = self.add_weight(shape=(self.size, max(1, len(self.categorical))), initializer="zeros",
                                                 dtype="int64", trainable=False, name="categorical_features")
        self.build((None,))

    def build(self, input_shape):
        self.embedding.build((None,))
        width = self.embedding_dim * (1 + len(self.categorical)) + len(self.numeric)
        for layer in self.feature_embeddings:
            layer.build((None,))
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        if self.output_layer is not None:
            self.output_layer.build((None, width))
        self.built = True

    def set_features(self, numeric: np.ndarray, categorical: np.ndarray) -> None:
        """The features of every id, in index order: numeric (size, len(numeric)), categorical
        (size, len(categorical)) value indices."""
        if self.numeric:
            self.numeric_table.assign(np.asarray(numeric, dtype="float32").reshape(self.size, len(self.numeric)))
        if self.categorical:
            self.categorical_table.assign(np.asarray(categorical, dtype="int64").reshape(self.size, len(self.categorical)))

    def call(self, index, training=False):
        parts = [self.embedding(index)]
        if self.categorical:
            values = ops.take(self.categorical_table, index, axis=0)
            parts += [layer(values[:, j]) for j, layer in enumerate(self.feature_embeddings)]
        if self.numeric:
            parts.append(ops.cast(ops.take(self.numeric_table, index, axis=0), parts[0].dtype))
        x = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        for layer in self.hidden:
            x = layer(x)
        if self.output_layer is not None:
            x = self.output_layer(x)
        if self.normalize:
            x = x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), 1e-12)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "embedding_dim": self.embedding_dim, "units": self.units, "normalize": self.normalize,
                       "l2": self.l2, "numeric": self.numeric, "categorical": self.categorical})
        return config


@keras.saving.register_keras_serializable(package="strata")
class TwoTowerRetrieval(keras.Model):
    """Users and items embedded by two towers; a user's items are those whose vectors are closest.

    Raw ids go through `StringLookup` (an unknown id is index 0) and an embedding per tower, then
    `tower_units` dense layers, and are scaled to unit length: a (user, item) score is their
    cosine. `fit(x)` reads batches of interactions `{"user": ids, "item": ids}` (targets are
    ignored) and learns with an in-batch softmax: each user's own item against the batch's other
    items, logits divided by `temperature`. With `logq_correction`, each candidate's logit is
    lowered by the log of its sampling probability (its share of the training interactions; Yi et
    al. 2019, "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations"), so
    popular items, which are in-batch negatives more often, are not pushed down for it; with
    `remove_accidental_hits`, another row's copy of a user's own item is not a negative. Both come
    from KerasRS (`keras_rs.layers`).

    Calling the model scores (user, item) pairs; `recommend` ranks every item for users,
    optionally without those they interacted with in training (`set_training_interactions`),
    and falls back to the most popular items for an unknown user.

    Args:
        users: list of str, the known user ids.
        items: list of str, the candidate item ids.
        embedding_dim: int, default 32. Size of the vectors.
        tower_units: list of int, default []. Dense layers of each tower after its embedding.
        temperature: float, default 0.1. Divides the cosines in the training softmax.
        logq_correction: bool, default True.
        remove_accidental_hits: bool, default True.
        top_k: int, default 10. Items `recommend` returns unless told otherwise.
        seen_count: int, default 0. The number of distinct training (user, item) pairs.
        user_features, item_features: dict, optional. `{"numeric": [names], "categorical":
            {name: values}}` of each tower's features (`Tower`), set by `set_features`.

    Example:

    >>> model = TwoTowerRetrieval(["u1", "u2"], ["a", "b", "c"], embedding_dim=4, top_k=2, seen_count=2)
    >>> model.set_training_interactions(np.array(["u1", "u2"]), np.array(["a", "b"]))
    >>> model.compile(optimizer="adam")
    >>> import tensorflow as tf
    >>> interactions = tf.data.Dataset.from_tensor_slices({"user": ["u1", "u2"], "item": ["a", "b"]}).batch(2)
    >>> history = model.fit(interactions, epochs=1, verbose=0)
    >>> ids, scores, known = model.recommend(np.array(["u1", "stranger"]))
    >>> ids.shape, known.numpy().tolist()
    (TensorShape([2, 2]), [True, False])
    """

    def __init__(
        self,
        users,
        items,
        embedding_dim: int = 32,
        tower_units=(),
        temperature: float = 0.1,
        logq_correction: bool = True,
        remove_accidental_hits: bool = True,
        top_k: int = 10,
        seen_count: int = 0,
        user_features: dict | None = None,
        item_features: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"TwoTowerRetrieval: temperature must be positive. Received: temperature={temperature}")
        self.users, self.items = [str(u) for u in users], [str(i) for i in items]
        self.embedding_dim, self.tower_units = int(embedding_dim), [int(u) for u in tower_units]
        self.temperature, self.top_k = float(temperature), int(top_k)
        self.logq_correction, self.remove_accidental_hits = bool(logq_correction), bool(remove_accidental_hits)
        self.seen_count = int(seen_count)
        self.user_lookup = keras.layers.StringLookup(vocabulary=self.users, name="user_lookup")
        self.item_lookup = keras.layers.StringLookup(vocabulary=self.items, name="item_lookup")
        self.item_ids = keras.layers.StringLookup(vocabulary=self.items, invert=True, name="item_ids")
        self.user_features = {"numeric": list((user_features or {}).get("numeric", [])),
                              "categorical": dict((user_features or {}).get("categorical", {}))}
        self.item_features = {"numeric": list((item_features or {}).get("numeric", [])),
                              "categorical": dict((item_features or {}).get("categorical", {}))}
        self.user_tower = Tower(len(self.users) + 1, self.embedding_dim, self.tower_units, name="user_tower",
                                **self.user_features, **self._tower_options())
        self.item_tower = Tower(len(self.items) + 1, self.embedding_dim, self.tower_units, name="item_tower",
                                **self.item_features, **self._tower_options())
        # the training interactions: each item's count (index 0: unknown), each user's items as
        # the rows of a ragged array (row 0: unknown users, empty)
        self.item_counts = self.add_weight(shape=(len(self.items) + 1,), initializer="zeros", trainable=False,
                                           name="item_counts")
        self.seen_splits = self.add_weight(shape=(len(self.users) + 2,), initializer="zeros", dtype="int64",
                                           trainable=False, name="seen_splits")
        self.seen_items = self.add_weight(shape=(max(1, self.seen_count),), initializer="zeros", dtype="int64",
                                          trainable=False, name="seen_items")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        import keras_rs

        self._logq = keras_rs.layers.SamplingProbabilityCorrection(name="logq_correction")
        self._hits = keras_rs.layers.RemoveAccidentalHits(name="remove_accidental_hits")
        self.built = True

    def _tower_options(self) -> dict:
        return {"normalize": True}

    # ------------------------------------------------------------------ the training interactions

    def set_training_interactions(self, users: np.ndarray, items: np.ndarray) -> None:
        """Records the training interactions (raw id arrays): item popularity (the logQ correction,
        the fallback) and each user's items (excluded from `recommend`)."""
        u = np.asarray(self.user_lookup(np.asarray(users, dtype=str).reshape(-1))).astype("int64")
        i = np.asarray(self.item_lookup(np.asarray(items, dtype=str).reshape(-1))).astype("int64")
        self.item_counts.assign(np.bincount(i, minlength=len(self.items) + 1).astype("float32"))
        pairs = np.unique(np.stack([u, i], axis=1), axis=0)  # sorted by user, then item
        if len(pairs) != self.seen_count:
            raise ValueError(f"TwoTowerRetrieval: {len(pairs)} distinct (user, item) pairs, but seen_count={self.seen_count}")
        per_user = np.bincount(pairs[:, 0], minlength=len(self.users) + 1)
        self.seen_splits.assign(np.r_[0, np.cumsum(per_user)].astype("int64"))
        values = pairs[:, 1] if len(pairs) else np.zeros(1, "int64")
        self.seen_items.assign(values.astype("int64"))

    def set_features(self, kind: str, numeric: np.ndarray, categorical: np.ndarray) -> None:
        """The features of every user (`kind="user"`) or item, in lookup order (row 0: unknown)."""
        (self.user_tower if kind == "user" else self.item_tower).set_features(numeric, categorical)

    def item_probability(self, item_index):
        """Each item's share of the training interactions."""
        counts = ops.convert_to_tensor(self.item_counts)
        return ops.take(counts / ops.maximum(ops.sum(counts), 1.0), item_index)

    # ------------------------------------------------------------------ scoring

    def _vectors(self, x, training=False):
        users = self.user_lookup(ops.reshape(x["user"], (-1,)))
        items = self.item_lookup(ops.reshape(x["item"], (-1,)))
        return users, items, self.user_tower(users, training=training), self.item_tower(items, training=training)

    def call(self, inputs, training=False):
        """The cosine of each (user, item) pair, shape (batch, 1)."""
        _, _, u, v = self._vectors(inputs, training)
        return ops.cast(ops.sum(u * v, axis=-1, keepdims=True), "float32")

    def recommend(self, users, k: int | None = None, exclude_seen: bool = True, popularity: bool = False):
        """The top `k` items (default `top_k`) for raw user ids (shape (batch,)): their ids, scores
        and whether each user was known. Unknown users (and all of them with `popularity=True`)
        get the most popular training items, scored by log(1 + count)."""
        import tensorflow as tf

        k = min(int(k or self.top_k), len(self.items))
        index = self.user_lookup(tf.reshape(tf.convert_to_tensor(users), (-1,)))
        known = index > 0
        counts = tf.convert_to_tensor(self.item_counts)
        predicted = self.all_item_scores(index)
        liked = tf.broadcast_to(tf.math.log1p(counts)[None, :], tf.shape(predicted))
        use_model = tf.logical_and(known, not popularity)[:, None]
        scores = tf.where(use_model, predicted, liked)
        never = tf.fill(tf.shape(scores), float("-inf"))
        scores = tf.where(tf.range(len(self.items) + 1)[None, :] == 0, never, scores)  # the unknown item
        if exclude_seen:
            rows = tf.gather(tf.RaggedTensor.from_row_splits(tf.convert_to_tensor(self.seen_items),
                                                             tf.convert_to_tensor(self.seen_splits), validate=False),
                             tf.cast(index, "int64"))
            at = tf.stack([rows.value_rowids(), rows.flat_values], axis=1)
            scores = tf.tensor_scatter_nd_update(scores, at, tf.fill(tf.shape(rows.flat_values), float("-inf")))
        top = tf.math.top_k(scores, k)
        return self.item_ids(top.indices), top.values, known

    def all_item_scores(self, user_index):
        """The score of every item (index 0: unknown) for each user index: (batch, items + 1)."""
        import tensorflow as tf

        items = self.item_tower(tf.range(len(self.items) + 1))
        return tf.cast(tf.matmul(self.user_tower(user_index), items, transpose_b=True), "float32")

    def serving_endpoints(self, exclude_seen: bool = True) -> dict:
        """The SavedModel's signatures, by name: `serve` (a raw user id -> `item_ids`, `scores`,
        `source`: model or popularity) and `score` ((user, item) pairs -> `score`)."""
        import tensorflow as tf

        def serve(user):
            ids, scores, known = self.recommend(user, exclude_seen=exclude_seen)
            return {"item_ids": ids, "scores": scores, "source": tf.where(known, "model", "popularity")}

        def score(user, item):
            return {"score": self({"user": user, "item": item})[:, 0]}

        ids = tf.TensorSpec([None], tf.string, name="user")
        return {"serve": (serve, [ids]), "score": (score, [ids, tf.TensorSpec([None], tf.string, name="item")])}

    # ------------------------------------------------------------------ training

    def _in_batch_loss(self, x, training: bool):
        _, items, u, v = self._vectors(x, training)
        logits = ops.cast(ops.matmul(u, ops.transpose(v)), "float32") / self.temperature
        labels = ops.eye(ops.shape(logits)[0], dtype=logits.dtype)
        if self.logq_correction:
            logits = self._logq(logits, self.item_probability(items))
        if self.remove_accidental_hits:
            logits = self._hits(logits, labels, items)
        return ops.mean(keras.losses.categorical_crossentropy(labels, logits, from_logits=True))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        import tensorflow as tf

        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss = self._in_batch_loss(x, training=True)
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.loss_tracker.update_state(self._in_batch_loss(x, training=False))
        return {"loss": self.loss_tracker.result()}

    # ------------------------------------------------------------------ saving

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "users": self.users,
            "items": self.items,
            "embedding_dim": self.embedding_dim,
            "tower_units": self.tower_units,
            "temperature": self.temperature,
            "logq_correction": self.logq_correction,
            "remove_accidental_hits": self.remove_accidental_hits,
            "top_k": self.top_k,
            "seen_count": self.seen_count,
            "user_features": self.user_features,
            "item_features": self.item_features,
        }


@keras.saving.register_keras_serializable(package="strata")
class MatrixFactorization(TwoTowerRetrieval):
    """Biased matrix factorization (Koren, Bell and Volinsky 2009) of (user, item, rating) triples.

    A rating is predicted as the training mean plus a user bias, an item bias and the dot product
    of the user's and the item's vectors (embeddings, then `tower_units` dense layers; not
    normalized). `fit` minimizes the squared error of the ratings (the targets) plus `l2` times
    the squared embeddings, and logs `loss` and `rmse`. `recommend` ranks items by predicted
    rating, with the two-tower model's exclusion of training items and popularity fallback.

    Args:
        users, items, embedding_dim, tower_units, top_k, seen_count: as `TwoTowerRetrieval`.
        l2: float, default 1e-4. Weight of the embeddings' L2 penalty.
        rating_mean: float, default 0.0. The training ratings' mean (the prediction's offset).

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> model = MatrixFactorization(["u1", "u2"], ["a", "b"], embedding_dim=4, seen_count=2, rating_mean=3.0)
    >>> model.set_training_interactions(np.array(["u1", "u2"]), np.array(["a", "b"]))
    >>> model.compile(optimizer="adam")
    >>> ratings = tf.data.Dataset.from_tensor_slices(({"user": ["u1", "u2"], "item": ["a", "b"]}, [[4.0], [2.0]])).batch(2)
    >>> sorted(model.fit(ratings, epochs=1, verbose=0).history)
    ['loss', 'rmse']
    """

    def __init__(self, users, items, l2: float = 1e-4, rating_mean: float = 0.0, **kwargs):
        self.l2, self.rating_mean = float(l2), float(rating_mean)
        kwargs.pop("logq_correction", None)
        kwargs.pop("remove_accidental_hits", None)
        super().__init__(users, items, logq_correction=False, remove_accidental_hits=False, **kwargs)
        self.user_bias = keras.layers.Embedding(len(self.users) + 1, 1, embeddings_initializer="zeros", name="user_bias")
        self.item_bias = keras.layers.Embedding(len(self.items) + 1, 1, embeddings_initializer="zeros", name="item_bias")
        self.user_bias.build((None,))
        self.item_bias.build((None,))
        self.rmse_tracker = keras.metrics.RootMeanSquaredError(name="rmse")

    def _tower_options(self) -> dict:
        return {"normalize": False, "l2": self.l2}

    def _rating(self, users, items, u, v):
        dot = ops.sum(u * v, axis=-1) + self.user_bias(users)[:, 0] + self.item_bias(items)[:, 0]
        return ops.cast(dot, "float32")[:, None] + self.rating_mean

    def call(self, inputs, training=False):
        """The predicted rating of each (user, item) pair, shape (batch, 1)."""
        return self._rating(*self._vectors(inputs, training))

    def all_item_scores(self, user_index):
        import tensorflow as tf

        every = tf.range(len(self.items) + 1)
        dot = tf.matmul(self.user_tower(user_index), self.item_tower(every), transpose_b=True)
        biases = self.user_bias(user_index)[:, 0][:, None] + self.item_bias(every)[:, 0][None, :]
        return tf.cast(dot + biases, "float32") + self.rating_mean

    @property
    def metrics(self):
        return [self.loss_tracker, self.rmse_tracker]

    def _squared_error(self, data, training: bool):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("MatrixFactorization: fit needs ratings as targets (data.rating_column)")
        predicted = self(x, training=training)
        y = ops.reshape(ops.cast(y, "float32"), (-1, 1))
        return ops.mean(ops.square(predicted - y)), y, predicted

    def train_step(self, data):
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            mse, y, predicted = self._squared_error(data, training=True)
            loss = mse + ops.sum(self.losses)
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return self._track(loss, y, predicted)

    def test_step(self, data):
        mse, y, predicted = self._squared_error(data, training=False)
        return self._track(mse, y, predicted)

    def _track(self, loss, y, predicted):
        self.loss_tracker.update_state(loss)
        self.rmse_tracker.update_state(y, predicted)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        config = super().get_config()
        config.update({"l2": self.l2, "rating_mean": self.rating_mean})
        return config
