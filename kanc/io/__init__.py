"""File formats: model files (npz + JSON header) and CSV data sets."""
