"""Output folders of runs: a run never writes over another run's files without being told to.

Every script writes into ``--out DIR``. ``claim_run_folder`` decides, before anything is
written, what happens to files already there:

- an empty or missing folder is used as it is;
- a folder with a run in it (a finished one, or a killed one) is refused, unless the caller
  resumes it (``resume=True``: its files are kept for the resume) or overwrites it
  (``overwrite=True``: everything in it is deleted first, so no stale file, such as old
  TensorBoard events, can mix with the new run's);
- ``resume`` on a folder without a run is refused too: there is nothing to resume.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["RunFolderError", "claim_run_folder"]


class RunFolderError(ValueError):
    """The output folder cannot be used as asked (another run's files, or nothing to resume)."""


def claim_run_folder(
    out: str | Path, resume: bool, overwrite: bool, run_files: tuple[str, ...]
) -> Path:
    """Make ``out`` ready for a run and return it.

    Args:
        out: the output folder.
        resume: continue the run in ``out``.
        overwrite: delete everything in ``out`` first.
        run_files: names whose presence in ``out`` means a run was there (a checkpoint, the
            settings file written at start, the summary written at the end).

    Returns:
        ``out`` as a ``Path`` (created).

    Raises:
        RunFolderError: for ``resume`` with ``overwrite``, ``resume`` without a run in ``out``,
            or a run in ``out`` with neither.
    """
    out = Path(out)
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite exclude each other: choose one")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    found = sorted(name for name in run_files if (out / name).exists())
    if resume and not found:
        raise RunFolderError(
            f"nothing to resume in {out}: none of {list(run_files)} is there; "
            "run without --resume to start a run"
        )
    if found and not (resume or overwrite):
        raise RunFolderError(
            f"{out} holds another run ({', '.join(found)}): give --resume to continue it, "
            "--overwrite to delete it and start again, or another --out"
        )
    if overwrite and out.is_dir():
        for path in out.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out
