"""A recommender run's top-k items for raw user ids: what `strata predict` writes for
`model=two_tower`.

The input is a table of user ids (a CSV/TSV/Parquet file with the run's user column, or `user`,
or one column of ids with or without a header; a `.txt` of one id per line; `-` for stdin). The
output has one row per user and rank:

```
user,rank,item,score,source
u0001,1,i0042,0.8123,model
stranger,1,i0259,6.311,popularity
```

`source` is `model` for a user the model knows and `popularity` for an unknown one, who gets the
most popular training items (scored by log(1 + interactions)).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from strata.errors import DataError


def read_users(value: str, user_column: str, known: set[str]) -> list[str]:
    """The user ids `input=value` holds, in order."""
    import pandas as pd

    if value == "-":
        data = sys.stdin.buffer.read()
        source, name = io.BytesIO(data), "stdin"
        suffix = ".parquet" if data[:4] == b"PAR1" else ".csv"
    else:
        path = Path(value)
        if not path.is_file():
            raise DataError(f"input={value}: no such file; give a CSV of user ids (a '{user_column}' column) or a .txt of one id per line.")
        source, name, suffix = path, str(path), path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(source).astype(str)
        elif suffix == ".txt":
            frame = pd.read_csv(source, header=None, names=[user_column], dtype=str, keep_default_na=False, sep="\x01")
        else:
            sep = "\t" if suffix in (".tsv", ".tab", ".data") else ","
            frame = pd.read_csv(source, sep=sep, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as ex:
        raise DataError(f"input={value}: cannot read {name} as a table of user ids: {str(ex).splitlines()[0]}") from None
    columns = [str(c) for c in frame.columns]
    for column in (user_column, "user"):
        if column in columns:
            return [str(u).strip() for u in frame[column].tolist()]
    if len(columns) == 1:
        ids = [str(u).strip() for u in frame[columns[0]].tolist()]
        # one column: its first line is a user id, not a header, when the model knows it
        return [columns[0].strip(), *ids] if columns[0].strip() in known else ids
    from strata.errors import suggestion

    raise DataError(f"input={value}: no column '{user_column}' of user ids in {name}.{suggestion(user_column, columns)} "
                    f"Columns: {', '.join(columns)}.")


def recommend_frame(model, users: list[str], k: int | None = None, exclude_seen: bool = True):
    """One row per user and rank: `user`, `rank`, `item`, `score`, `source` (model | popularity)."""
    import pandas as pd

    k = min(int(k or model.top_k), len(model.items))
    rows = []
    for start in range(0, len(users), 512):
        batch = users[start:start + 512]
        ids, scores, known = model.recommend(np.asarray(batch, dtype=object), k=k, exclude_seen=exclude_seen)
        for user, row_ids, row_scores, is_known in zip(batch, np.asarray(ids), np.asarray(scores), np.asarray(known)):
            source = "model" if is_known else "popularity"
            rows += [(user, rank + 1, item.decode(), float(score), source)
                     for rank, (item, score) in enumerate(zip(row_ids, row_scores)) if np.isfinite(score)]
    return pd.DataFrame(rows, columns=["user", "rank", "item", "score", "source"])
