"""Labelled text: a folder with one sub-folder per class holding one text file per example
(`pos/0001.txt`, `neg/0002.txt`, ...), or a CSV/TSV file with a text column and a label column.

The model takes the raw string; a `TextVectorization` layer adapted on the training split turns
it into a bag of n-grams (MLP) or a sequence of token ids (RNN, Transformer).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import Field

from strata.data import file_paths, tables
from strata.data.bundle import DataBundle, Split
from strata.data.columns import TextOptions, target_values
from strata.data.features import Feature, Task, input_name
from strata.data.schema import ClassWeightConfig, FileDataConfig
from strata.data.splits import separate_files, split_rows
from strata.errors import DataError
from strata.registry import SOURCES

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".text", ".md")


class TextConfig(FileDataConfig, ClassWeightConfig):
    """The `text` source's keys; conf/data/text.yaml documents each one."""

    source: Literal["text"] = "text"
    name: str = "text"
    # for a table file (ignored for a folder of class sub-folders)
    text_column: str = "text"
    target: str = "label"
    delimiter: str = "auto"
    header: bool = True
    column_names: list[str] | None = None
    encoding: str = "utf-8"
    max_classes: int = Field(20, ge=2)
    text: TextOptions = Field(default_factory=TextOptions)


@SOURCES.register("text", TextConfig)
def load(cfg: TextConfig, seed: int) -> DataBundle:
    full = file_paths.resolve(cfg.path, cfg.base_dir)
    if full.is_dir():
        texts, y, task = _folder(full, cfg, "data.path")
        column = "text"
    else:
        texts, y, task = _table(cfg, cfg.path, "data.path")
        column = cfg.text_column
    feature = Feature(input_name(column), "text", (1,), "string", column=column, options=cfg.text.model_dump())

    separate = {}
    for split, path, key in separate_files(cfg):
        sub = file_paths.resolve(path, cfg.base_dir, key)
        t, sy, _ = _folder(sub, cfg, key, task.classes) if sub.is_dir() else _table(cfg, path, key, task.classes)
        separate[split] = Split({feature.name: t}, sy)
    stratify = y if task.kind in ("binary", "multiclass") else None
    splits = split_rows(cfg, seed, Split({feature.name: texts}, y), separate, stratify)
    return DataBundle([feature], task, splits, cfg.pipeline, seed)


def read_text_file(path, encoding: str, key: str) -> str:
    try:
        return path.read_text(encoding=encoding).strip()
    except UnicodeDecodeError as ex:
        raise DataError(f"{key}: {path} is not {encoding} text (byte {ex.start}); set data.encoding.") from None


def text_files(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and not p.name.startswith("."))


def _folder(folder, cfg: TextConfig, key: str, classes: list[str] | None = None):
    if not folder.exists():
        file_paths.existing_folder(str(folder), None, key)
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError(f"{key}: {folder} has no sub-folders; expected one sub-folder of .txt files per class.")
    if classes is not None and set(found) - set(classes):
        extra = sorted(set(found) - set(classes))[0]
        raise DataError(f"{key}: class folder '{extra}' in {folder} is not a class of data.path ({', '.join(classes)}).")
    classes = classes or found
    if len(classes) < 2:
        raise DataError(f"{key}: {folder} has one class folder ('{classes[0]}'); a classifier needs at least two.")
    texts, labels = [], []
    for name in found:
        for f in text_files(folder / name):
            texts.append(read_text_file(f, cfg.encoding, key))
            labels.append(classes.index(name))
    if not texts:
        raise DataError(f"{key}: no text files ({', '.join(TEXT_SUFFIXES)}) in the class folders of {folder}.")
    task = Task("binary" if len(classes) == 2 else "multiclass", target="label", classes=list(classes))
    return np.array(texts, dtype=object).reshape(-1, 1), np.array(labels, dtype="int32"), task


def _table(cfg: TextConfig, path: str, key: str, classes: list[str] | None = None):
    files = file_paths.matching_files(path, cfg.base_dir, key=key)
    table = tables.read_table(
        files, tables.delimiter_of(cfg.delimiter, files), cfg.header, cfg.column_names, key=key, encoding=cfg.encoding
    )
    tables.require_column(table, cfg.text_column, "data.text_column")
    tables.require_column(table, cfg.target, "data.target")
    table, target = tables.labelled_rows(table, cfg.target, {""})
    y, task = target_values(target, cfg.target, cfg.max_classes, table, classes)
    if task.kind == "regression":
        log.info("data: target '%s' is numeric with many values: a regression on text", cfg.target)
    texts = table.frame[cfg.text_column].to_numpy(dtype=str).astype(object).reshape(-1, 1)
    return texts, y, task
