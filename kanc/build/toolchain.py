"""Find compilers and run them, turning every failure into a ToolchainError with the fix."""
import functools
import os
import shutil
import subprocess
import tempfile

from kanc.errors import ToolchainError

WARNING_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Wconversion", "-pedantic", "-Werror")
"""Flags every generated model and the runtime compile cleanly with."""

SANITIZER_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")

INSTALL_HINTS = {
    "host": "install a C compiler (Debian/Ubuntu: apt-get install gcc) or set CC to its path",
    "avr": "install avr-gcc and avr-libc (Debian/Ubuntu: apt-get install gcc-avr avr-libc) or set KANC_AVR_GCC",
}


def find_tool(candidates, env_var, kind):
    """Return the path of the first executable found: $env_var if set, else the first of ``candidates`` on PATH.

    ``kind`` selects the install hint ("host" or "avr"). Raises ToolchainError
    when $env_var names a missing program or no candidate is on PATH.
    """
    override = os.environ.get(env_var, "").strip() if env_var else ""
    if override:
        path = shutil.which(override)
        if path is None:
            raise ToolchainError(f"{env_var}={override!r} is not an executable on PATH; fix or unset {env_var}")
        return path
    for name in candidates:
        path = shutil.which(name)
        if path is not None:
            return path
    raise ToolchainError(f"no compiler found (looked for {', '.join(candidates)} on PATH); {INSTALL_HINTS[kind]}")


def host_cc():
    """Return the host C compiler: $CC, else cc, gcc or clang."""
    return find_tool(("cc", "gcc", "clang"), "CC", "host")


def avr_gcc():
    """Return avr-gcc: $KANC_AVR_GCC, else avr-gcc on PATH."""
    return find_tool(("avr-gcc",), "KANC_AVR_GCC", "avr")


def run_tool(command, what, input_bytes=None, timeout=600, env=None):
    """Run ``command`` (a list) and return its CompletedProcess (stdout and stderr as bytes).

    Raises ToolchainError naming ``what`` with the exit status and the end of
    stderr when the program fails, times out or cannot be started.
    """
    try:
        result = subprocess.run(list(map(str, command)), input=input_bytes, capture_output=True,
                                timeout=timeout, env=env, check=False)
    except FileNotFoundError:
        raise ToolchainError(f"{what} failed: program {command[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{what} timed out after {timeout} s: {' '.join(map(str, command[:3]))} ...") from None
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        tail = "\n".join(stderr.splitlines()[-30:])
        raise ToolchainError(f"{what} failed with exit status {result.returncode}:\n{tail}")
    return result


@functools.lru_cache(maxsize=None)
def sanitizers_available(cc):
    """Return True when ``cc`` can build and run a program with ASan and UBSan (probed once per compiler)."""
    with tempfile.TemporaryDirectory(prefix="kanc-probe-") as folder:
        source = os.path.join(folder, "probe.c")
        binary = os.path.join(folder, "probe")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write("int main(void) { return 0; }\n")
        try:
            run_tool([cc, *SANITIZER_FLAGS, source, "-o", binary], "sanitizer probe", timeout=120)
            run_tool([binary], "sanitizer probe run", timeout=60, env=sanitizer_environment())
        except ToolchainError:
            return False
    return True


def sanitizer_environment():
    """Return os.environ plus ASan/UBSan options: stop at the first error, no leak check (it needs ptrace)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env
