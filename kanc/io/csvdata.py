"""CSV data sets: a header row of column names, then one numeric row per sample."""
import csv
import dataclasses
import math

import numpy as np

from kanc.errors import DataError


@dataclasses.dataclass
class CsvData:
    """Features and (optionally) a target column read from a CSV file.

    ``X`` is float64 (N, n_features); ``y`` is float64 (N,) or None when the file has
    no target column and none was requested.
    """

    X: np.ndarray
    y: object
    feature_names: list
    target_name: object
    path: str
    task: object = None


def load_csv(path, target=None, feature_names=None, require_target=True):
    """Read ``path`` and split it into features and the ``target`` column.

    ``target`` is a column name, or None for the last column. With ``feature_names``
    the features are those columns in that order (so a model trained on one file
    reads another file's columns correctly); otherwise every column but the target.
    With ``require_target=False`` a file without the target column is accepted and
    ``y`` is None.

    Raises DataError, naming the file, row and column, for a missing file, an empty
    file, a missing target or feature column, a row of the wrong length, a
    non-numeric cell, NaN or an infinite value.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"data file {path} is a directory; pass a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"data file {path} is not UTF-8 text ({exc}); save it as a UTF-8 CSV") from None

    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"data file {path} is empty; expected a header row and numeric rows")
    header = [name.strip() for name in rows[0]]
    if all(_is_number(name) for name in header):
        raise DataError(f"data file {path}: the first row {rows[0][:4]}... contains only numbers; "
                        "add a header row with the column names")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"data file {path}: column name(s) {duplicates} appear more than once in the header")
    body = rows[1:]
    if not body:
        raise DataError(f"data file {path} has a header but no data rows")

    target_name = header[-1] if target is None else target
    has_target = target_name in header
    if target is not None and not has_target and not require_target:
        raise DataError(f"data file {path} has no column {target!r} named by --target; columns are {header}")
    if target is not None and feature_names is not None and target in feature_names:
        raise DataError(f"--target {target!r} is one of the model's feature columns; name the target column "
                        "or leave --target out")
    if not has_target and require_target:
        raise DataError(f"data file {path} has no target column {target_name!r}; columns are {header}. "
                        "Pass the right column with --target")

    if feature_names is None:
        feature_names = [name for name in header if not (has_target and name == target_name)]
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise DataError(f"data file {path} lacks feature column(s) {missing} that the model expects; "
                        f"columns are {header}")
    if not feature_names:
        raise DataError(f"data file {path} has no feature columns besides the target {target_name!r}")

    values = np.empty((len(body), len(header)), dtype=np.float64)
    for row_index, row in enumerate(body):
        line = row_index + 2
        if len(row) != len(header):
            raise DataError(f"data file {path}, line {line}: {len(row)} cells, but the header has {len(header)}")
        for col_index, cell in enumerate(row):
            try:
                number = float(cell)
            except ValueError:
                raise DataError(f"data file {path}, line {line}, column {header[col_index]!r}: "
                                f"cell {cell!r} is not a number") from None
            if math.isnan(number):
                raise DataError(f"data file {path}, line {line}, column {header[col_index]!r}: value is NaN; "
                                "remove or impute missing values first")
            if math.isinf(number):
                raise DataError(f"data file {path}, line {line}, column {header[col_index]!r}: "
                                f"value {cell!r} is infinite")
            values[row_index, col_index] = number

    columns = [header.index(name) for name in feature_names]
    X = values[:, columns]
    y = values[:, header.index(target_name)] if has_target else None
    return CsvData(X=X, y=y, feature_names=list(feature_names),
                   target_name=target_name if has_target else None, path=str(path))


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def class_labels(y, path="data"):
    """Return ``y`` as int64 class labels; raise DataError if a value is not a whole number."""
    labels = np.rint(y)
    if not np.array_equal(labels, y):
        bad = y[labels != y][0]
        raise DataError(f"{path}: classification target value {bad} is not a whole-number class label")
    return labels.astype(np.int64)
