"""What goes into a slug: the app's files less `.slugignore`, their size and checksum, and the commit.

Heroku removes the paths `.slugignore` lists (gitignore-like patterns, no
negation) after the build; the slug size is what remains plus the installed
dependencies. The commit is the directory's git HEAD when it is a repository
(as `git push heroku` deploys a commit); otherwise a digest of the files stands
in for one, so it still changes when the code does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SlugFiles",
    "copy_source",
    "directory_size",
    "git_head",
    "prune_slug",
    "read_slugignore",
    "slug_files",
]

# Never part of a slug: version control and local caches.
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", "node_modules"})
GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SlugFiles:
    """The app files a slug holds: their total bytes, a sha1 (commit stand-in) and a SHA256 checksum."""

    files: tuple[Path, ...]
    size: int
    sha1: str
    checksum: str  # "SHA256:<hex>", as the Slug API shows it


def read_slugignore(app_dir: Path) -> list[str]:
    """The patterns of `<app_dir>/.slugignore` (blank lines and comments dropped)."""
    path = app_dir / ".slugignore"
    if not path.is_file():
        return []
    lines = (ln.strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _ignored(relative: Path, patterns: list[str]) -> bool:
    """gitignore-style: `a/b` or `/a` match from the root; a bare name or glob matches at any depth."""
    text = relative.as_posix()
    for raw in patterns:
        pattern = raw.rstrip("/")
        if "/" in pattern:
            anchored = pattern.lstrip("/")
            if fnmatch.fnmatch(text, anchored) or text.startswith(anchored + "/"):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in relative.parts):
            return True
    return False


def slug_files(app_dir: Path) -> SlugFiles:
    """The app's files as its slug holds them (sorted), with `.slugignore` honoured."""
    patterns = read_slugignore(app_dir)
    sha1, sha256, total, kept = hashlib.sha1(), hashlib.sha256(), 0, []
    for path in sorted(app_dir.rglob("*")):
        relative = path.relative_to(app_dir)
        if not path.is_file() or SKIPPED_DIRS.intersection(relative.parts) or _ignored(relative, patterns):
            continue
        data = path.read_bytes()
        for digest in (sha1, sha256):
            digest.update(str(relative).encode() + b"\0" + data)
        total += len(data)
        kept.append(path)
    return SlugFiles(tuple(kept), total, sha1.hexdigest(), "SHA256:" + sha256.hexdigest())


def copy_source(app_dir: Path, target: Path) -> None:
    """Copy the app into the slug directory the build works in (never the user's own directory)."""
    shutil.copytree(app_dir, target, symlinks=True, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))


def prune_slug(slug_dir: Path) -> None:
    """Remove what `.slugignore` lists, after the build, as Heroku does."""
    patterns = read_slugignore(slug_dir)
    for path in sorted(slug_dir.rglob("*"), reverse=True):
        if (path.is_file() or path.is_symlink()) and _ignored(path.relative_to(slug_dir), patterns):
            path.unlink()


def directory_size(path: Path) -> int:
    """Total bytes of the regular files under `path` (symlinks not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _git(app_dir: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(app_dir), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_head(app_dir: Path) -> tuple[str, str] | None:
    """(HEAD sha, its subject line) when `app_dir` is the top of a git work tree; None otherwise."""
    top = _git(app_dir, "rev-parse", "--show-toplevel", "HEAD")
    lines = top.stdout.split() if top is not None and top.returncode == 0 else []
    if len(lines) != 2 or Path(lines[0]).resolve() != app_dir.resolve():
        return None
    subject = _git(app_dir, "log", "-1", "--format=%s")
    return lines[1], subject.stdout.strip() if subject is not None else ""
