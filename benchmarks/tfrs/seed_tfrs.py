"""The seed document's rating model in TensorFlow Recommenders, timed: the worker of
`benchmarks/tfrs_side_by_side.py`, run with the separate TFRS venv (`make bench-tfrs`).

Reads `--npz` (train/test user ids, titles and ratings as the driver wrote them), builds the
model exactly as the tutorial does (StringLookup + Embedding(32) per side, concat, Dense 256 relu,
64 relu, 1; MSE; Adagrad 0.1; batch 8192), trains `--epochs` and prints one JSON line: seconds
inside `fit`, ratings/s and the test RMSE. It imports nothing from reelrank.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFRS 0.7 needs Keras 2 (tf-keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs


class RatingMLP(tf.keras.Model):
    def __init__(self, unique_user_ids: np.ndarray, unique_movie_titles: np.ndarray) -> None:
        super().__init__()
        embedding_dimension = 32
        self.user_embeddings = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=unique_user_ids, mask_token=None),
                tf.keras.layers.Embedding(len(unique_user_ids) + 1, embedding_dimension),
            ]
        )
        self.movie_embeddings = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=unique_movie_titles, mask_token=None),
                tf.keras.layers.Embedding(len(unique_movie_titles) + 1, embedding_dimension),
            ]
        )
        self.ratings = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(256, activation="relu"),
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dense(1),
            ]
        )

    def call(self, inputs):  # type: ignore[no-untyped-def]
        user_id, movie_title = inputs
        user_embedding = self.user_embeddings(user_id)
        movie_embedding = self.movie_embeddings(movie_title)
        return self.ratings(tf.concat([user_embedding, movie_embedding], axis=1))


class MovielensModel(tfrs.models.Model):
    def __init__(self, unique_user_ids: np.ndarray, unique_movie_titles: np.ndarray) -> None:
        super().__init__()
        self.ranking_model = RatingMLP(unique_user_ids, unique_movie_titles)
        self.task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.MeanSquaredError(),
            metrics=[tf.keras.metrics.RootMeanSquaredError()],
        )

    def call(self, features):  # type: ignore[no-untyped-def]
        return self.ranking_model((features["user_id"], features["movie_title"]))

    def compute_loss(self, features, training=False):  # type: ignore[no-untyped-def]
        labels = features.pop("user_rating")
        rating_predictions = self(features)
        return self.task(labels=labels, predictions=rating_predictions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--npz", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    tf.random.set_seed(args.seed)
    data = np.load(args.npz)

    def dataset(part: str) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(
            {
                "user_id": data[f"{part}_user"],
                "movie_title": data[f"{part}_title"],
                "user_rating": data[f"{part}_rating"].astype(np.float32),
            }
        )

    train, test = dataset("train"), dataset("test")
    cached_train = train.shuffle(100_000, seed=args.seed).batch(8192).cache()
    cached_test = test.batch(4096).cache()
    model = MovielensModel(data["user_vocabulary"], data["title_vocabulary"])
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))
    start = time.perf_counter()
    model.fit(cached_train, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - start
    rmse = model.evaluate(cached_test, return_dict=True, verbose=0)["root_mean_squared_error"]
    n = len(data["train_rating"])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "ratings_per_second": n * args.epochs / seconds,
                "rmse": float(rmse),
                "tensorflow": tf.__version__,
                "threads": tf.config.threading.get_intra_op_parallelism_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
