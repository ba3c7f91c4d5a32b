"""Every bad data input ends with exit 2 and one line naming the file, the column and the row,
with no traceback and no half-written run left behind (real CLI)."""

from __future__ import annotations

import pytest

from tests.conftest import assert_user_error, strata
from tests.test_data_sources import _houses, _png

CSV = ("data=csv", "model=mlp", "report=false", "callbacks=none", "trainer.epochs=1")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    _houses(d / "houses.csv", n=60)
    (d / "empty.csv").write_text("")
    lines = (d / "houses.csv").read_text().splitlines()
    lines[17] = lines[17].replace(lines[17].split(",")[1], "twelve", 1)
    (d / "wordy.csv").write_text("\n".join(lines) + "\n")
    (d / "one_class.csv").write_text("x,label\n" + "".join(f"{i},spam\n" for i in range(30)))
    for i in range(4):
        _png(d / "mixed" / "a" / f"{i}.png", size=(8, 8))
        _png(d / "mixed" / "b" / f"{i}.png", size=(8, 8) if i else (10, 6))
        _png(d / "broken" / "a" / f"{i}.png")
        _png(d / "broken" / "b" / f"{i}.png")
    (d / "broken" / "b" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really an image")
    return d


CASES = {
    "path missing": (CSV + ("data.path=nohouses.csv", "data.target=price"), ["data.path=nohouses.csv", "no such file"]),
    "file empty": (CSV + ("data.path=empty.csv", "data.target=price"), ["data.path=empty.csv", "empty.csv is empty"]),
    "glob matches nothing": (CSV + ("data.path=data/*.csv", "data.target=price"), ["data.path=data/*.csv", "no file matches"]),
    "target absent": (CSV + ("data.path=houses.csv", "data.target=prise"),
                      ["data.target=prise", "houses.csv", "Did you mean 'price'", "Columns: Id, area, rooms"]),
    "text in a numeric column": (CSV + ("data.path=wordy.csv", "data.target=price"),
                                 ["wordy.csv", "column 'area'", "'twelve'", "row 17 (line 18)", "expected a number"]),
    "single class": (CSV + ("data.path=one_class.csv", "data.target=label"),
                     ["data.target=label", "one_class.csv", "'spam'", "two classes"]),
    "mixed image sizes": (("data=images", "data.path=mixed", "report=false", "callbacks=none", "trainer.epochs=1"),
                          ["data.path", "mixed/b/0.png", "10x6", "data.image_size"]),
    "corrupt image": (("data=images", "data.path=broken", "report=false", "callbacks=none", "trainer.epochs=1"),
                      ["data.path", "broken/b/2.png", "cannot read the image"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_exits_2_with_one_line(files, tmp_path, case):
    args, fragments = CASES[case]
    run = tmp_path / "run"
    result = strata("train", *args, f"hydra.run.dir={run}", cwd=files)
    assert_user_error(result, *fragments)
    assert not run.exists()  # nothing half-written: the refused run's folder is removed


def test_missing_path_value_is_a_config_error(tmp_path):
    result = strata("train", *CSV, "data.path=null", cwd=tmp_path)
    assert_user_error(result, "data.path")
