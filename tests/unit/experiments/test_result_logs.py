"""Result files after a restore: the rows a restored trial repeats are dropped in place, before it logs
them again, so every epoch appears exactly once and in order (`experiments/csv_log.py`)."""

import csv
import json

from rllib_nsrl.experiments.csv_log import drop_rows_from, logged_iterations


def write_json(path, iterations, tail=""):
    path.write_text(
        "".join(json.dumps({"training_iteration": i, "x": i * 0.5}) + "\n" for i in iterations) + tail
    )


def write_csv(path, iterations):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x", "training_iteration"])
        w.writerows([[i * 0.5, i] for i in iterations])


def test_json_rows_from_the_restored_epoch_on_are_dropped_in_place(tmp_path):
    path = tmp_path / "result.json"
    write_json(path, range(1, 13), tail='{"training_iteration": 13, "x"')  # a line cut by a crash
    appender = path.open("a")  # Tune's logger keeps its append-mode handle across the rewrite
    inode = path.stat().st_ino
    assert logged_iterations(path, "json") == [*range(1, 13), None]
    assert drop_rows_from(path, 10, "json") == 4
    assert path.stat().st_ino == inode
    appender.write(json.dumps({"training_iteration": 10, "x": 5.0}) + "\n")
    appender.close()
    assert logged_iterations(path, "json") == list(range(1, 11))
    assert json.loads(path.read_text().splitlines()[8]) == {"training_iteration": 9, "x": 4.5}


def test_csv_rows_from_the_restored_epoch_on_are_dropped_and_the_header_kept(tmp_path):
    path = tmp_path / "progress.csv"
    write_csv(path, [1, 2, 3, 4, 5, 3, 4])  # an earlier restore's duplicates, too
    assert drop_rows_from(path, 3, "csv") == 5
    rows = list(csv.reader(path.open()))
    assert rows == [["x", "training_iteration"], ["0.5", "1"], ["1.0", "2"]]


def test_nothing_changes_when_no_row_is_repeated(tmp_path):
    path = tmp_path / "result.json"
    write_json(path, range(1, 4))
    before = path.read_bytes()
    assert drop_rows_from(path, 4, "json") == 0 and path.read_bytes() == before
    assert drop_rows_from(tmp_path / "missing.json", 1, "json") == 0
    assert logged_iterations(tmp_path / "missing.csv", "csv") == []


def test_csv_rows_with_fields_over_the_csv_modules_default_limit_are_read(tmp_path):
    """A long list in a result becomes one progress.csv field of any size (a resumed run once stopped here
    with `field larger than field limit (131072)`)."""
    path = tmp_path / "progress.csv"
    big = "[" + ", ".join(["0.123456"] * 40_000) + "]"  # ≈ 400 000 characters
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x", "training_iteration"])
        w.writerows([[big, i] for i in (1, 2, 3)])
    assert logged_iterations(path, "csv") == [1, 2, 3]
    assert drop_rows_from(path, 3, "csv") == 1
    assert logged_iterations(path, "csv") == [1, 2]
