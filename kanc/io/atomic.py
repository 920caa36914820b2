"""Atomic file output: write to a temporary file in the same folder, then rename."""
import contextlib
import os
import stat
import tempfile

from kanc.errors import KancError


class OutputPathError(KancError):
    """An output path cannot be written: it is a directory, a device, or an input of the same command."""


def check_output_path(path, inputs=()):
    """Return the real path ``path`` resolves to, after checking that kanc may replace it.

    The path must be absent or a regular file (a symbolic link is followed, so the
    file it points to is replaced), its folder must be creatable, and it must not
    be one of ``inputs``. Raises OutputPathError naming the path and the fix.
    """
    real = os.path.realpath(os.fspath(path))
    if os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode):
        kind = "a directory" if os.path.isdir(real) else "not a regular file"
        raise OutputPathError(f"output path {path} is {kind}; give a file path to write")
    for source in inputs:
        if source is not None and os.path.exists(source) and os.path.realpath(os.fspath(source)) == real:
            raise OutputPathError(f"output path {path} is also an input of this command; write to another file")
    return real


def _default_file_mode():
    # mkstemp creates files with mode 0600; outputs get the usual 0666 minus the umask.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    On any exception the temporary file is removed, so a failed run never leaves a
    half-written output behind. A symbolic link at ``path`` is followed, and a
    directory or device there raises OutputPathError instead of being replaced.
    """
    real = check_output_path(path)
    folder = os.path.dirname(real)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(real), dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
