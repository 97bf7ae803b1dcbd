"""The bundled C samples (c_samples/*.c) and turning a launch TARGET into a path.

The samples live in the repository next to the package (memlab is installed editable),
built by `make samples` into c_samples/bin/.  MEMLAB_SAMPLES_DIR points elsewhere (a
directory with the .c files and a bin/ of built binaries).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from memlab.errors import UsageError

DEFAULT_SAMPLE = "sleeper"
SAMPLES_ENV = "MEMLAB_SAMPLES_DIR"
# A sample name is a plain file stem: it never contains a '/'.
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class Sample:
    name: str  # binary name in bin/ ("sleeper", "sleeper-static", ...)
    path: Path  # the built binary (may not exist yet)
    source: Path  # the .c file it is built from
    description: str  # first line of the .c file's header comment
    built: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "source": str(self.source),
                "description": self.description, "built": self.built}


def samples_dir() -> Path:
    """c_samples/ of the repository memlab was installed from (or $MEMLAB_SAMPLES_DIR)."""
    override = os.environ.get(SAMPLES_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "c_samples"


def bin_dir() -> Path:
    return samples_dir() / "bin"


def describe(source: Path) -> str:
    """The first non-empty line of the leading /* ... */ comment, without the markers."""
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    text = text.lstrip()
    if not text.startswith("/*"):
        return ""
    body = text[2:text.find("*/")] if "*/" in text else text[2:]
    for line in body.splitlines():
        line = line.strip().lstrip("*").strip()
        if line:
            return line
    return ""


# sleeper.c is built four ways, execloop.c two (see the Makefile); every other foo.c
# once, as bin/foo.
_VARIANTS = {"sleeper": ("sleeper", "sleeper-nopie", "sleeper-static", "sleeper-static-pie"),
             "execloop": ("execloop", "execloop-static")}
# What tells the four builds apart (`memlab samples` showed four identical lines).
_BUILD_NOTES = {
    "sleeper": "Built as a PIE (-fPIE -pie): the kernel loads it at a random base.",
    "sleeper-nopie": "Built -no-pie: text/data at fixed addresses (0x400000).",
    "sleeper-static": "Built -static: no ld.so, no shared libraries, fixed addresses.",
    "sleeper-static-pie": "Built -static-pie: no ld.so; relocates itself at a random "
                          "base (its heap lies below the binary).",
    "execloop": "Built as a PIE (-fPIE -pie).",
    "execloop-static": "Built -static: alternating with execloop changes the ELF type.",
}


def list_samples() -> list[Sample]:
    """Every sample the sources promise, built or not, sorted by name."""
    root = samples_dir()
    out: list[Sample] = []
    for source in sorted(root.glob("*.c")):
        desc = describe(source)
        for name in _VARIANTS.get(source.stem, (source.stem,)):
            path = root / "bin" / name
            note = _BUILD_NOTES.get(name)
            out.append(Sample(name, path, source, f"{desc} {note}" if note else desc,
                              _is_executable_file(path)))
    return out


def _is_executable_file(path: Path | str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK)


def _check_executable(path: str) -> str:
    """`path` if execve could run it, else a UsageError saying why (one line)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError("no such file", path=path) from None
    except OSError as err:
        raise UsageError(f"cannot stat: {err.strerror}", path=path) from err
    if stat.S_ISDIR(st.st_mode):
        raise UsageError("is a directory, not an executable", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise UsageError("not a regular file", path=path)
    if not os.access(path, os.X_OK):
        raise UsageError("not executable (no x permission)", path=path)
    return path


def resolve_target(target: str) -> str:
    """A launch TARGET as the path to execve.

    - a name containing '/' is a path (relative paths stay relative: argv[0] is the
      target as given, like a shell does);
    - a bundled sample name ("sleeper", "sleeper-static") -> c_samples/bin/NAME, with a
      hint to run `make samples` when it is not built;
    - otherwise a command found on $PATH (like execvp).
    Scripts with a #! line are fine: the kernel runs their interpreter.
    """
    if not target:
        raise UsageError("empty launch target")
    if "/" in target:
        return _check_executable(target)
    sources = {s.name: s for s in list_samples()}
    if _NAME_RE.match(target) and target in sources:
        sample = sources[target]
        if not sample.built:
            raise UsageError(f"sample {target!r} is not built: run `make samples`",
                             path=str(sample.path))
        return _check_executable(str(sample.path))
    found = shutil.which(target)
    if found is None:
        names = ", ".join(sorted(sources)) if sources else "none"
        raise UsageError(f"{target!r} is neither a bundled sample ({names}) "
                         "nor a command on $PATH")
    return _check_executable(found)


def is_sample_path(path: str) -> bool:
    """True when `path` is one of the bundled samples' binaries (they speak the
    one-JSON-line-per-command protocol, so launch(hold="ready") works on them)."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return any(os.path.realpath(s.path) == real for s in list_samples())
