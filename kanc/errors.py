"""Exception types that the CLI turns into one-line messages and a non-zero exit."""


class KancError(Exception):
    """Base class of every error that kanc reports to a user without a traceback."""


class ModelFileError(KancError):
    """A model file is missing, malformed, of another format or version, or violates an invariant."""


class DataError(KancError):
    """A CSV file or an array of samples cannot be used (missing column, non-numeric cell, NaN, ...)."""


class ToolchainError(KancError):
    """A compiler, emulator or other external tool is missing or failed."""
