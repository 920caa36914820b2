"""Importers for KANs trained with pykan, efficient-kan, FastKAN and ChebyKAN.

Each importer returns a float64 model that follows kanc.model.protocol and
reproduces the library's forward pass to float64 round-off. torch, pykan and
PyYAML are optional (``pip install "kanc[import]"``); they are imported only when
an importer needs to read a torch file or a live model. See docs/importing.md.
"""
from kanc.importers.chebykan import import_chebykan
from kanc.importers.common import ModelImportError
from kanc.importers.efficient_kan import import_efficient_kan
from kanc.importers.fastkan import import_fastkan
from kanc.importers.pykan import import_pykan

IMPORTERS = {
    "pykan": import_pykan,
    "efficient-kan": import_efficient_kan,
    "fastkan": import_fastkan,
    "chebykan": import_chebykan,
}
"""Importer per source name, as written before the colon in ``kanc compile SOURCE:PATH``."""


def import_model(source, path, task="regression"):
    """Import the model at ``path`` trained with library ``source`` (a key of IMPORTERS)."""
    if source not in IMPORTERS:
        raise ModelImportError(f"unknown model source {source!r}; choose one of {sorted(IMPORTERS)}")
    return IMPORTERS[source](path, task=task)


__all__ = ["import_model", "IMPORTERS", "import_pykan", "import_efficient_kan", "import_fastkan", "import_chebykan", "ModelImportError"]
