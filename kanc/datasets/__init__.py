"""Small real data sets bundled with kanc (see data/DATA.md for sources and licences)."""
import os

from kanc.io.csvdata import load_csv

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

DATASETS = {
    "wine": ("wine.csv", "cultivar", "classification"),
    "iris": ("iris.csv", "species", "classification"),
    "breast_cancer": ("breast_cancer.csv", "benign", "classification"),
    "diabetes": ("diabetes.csv", "progression", "regression"),
}


def dataset_path(name):
    """Return the CSV path of a bundled data set; raise KeyError listing the valid names."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return os.path.join(DATA_DIR, DATASETS[name][0])


def load_dataset(name):
    """Load a bundled data set as a CsvData (features X, target y, names, task)."""
    filename, target, task = DATASETS[name] if name in DATASETS else (None, None, None)
    data = load_csv(dataset_path(name), target=target)
    data.task = task
    return data
