"""The repository stands on its own: it cites no file outside it, and every ``docs/<file>.md §N`` it cites exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: notes that live outside the repository (the team's research): the repo's own docs/ hold what it relies on
OUTSIDE = re.compile(
    r"reference/(graph-api|airflow3|performance|finance-anchors)\.md|\.\./shared/|/work/shared|DESIGN\.md"
)
CITATION = re.compile(r"docs/(?P<file>[\w-]+\.md) §(?P<section>\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#{2,4} (?P<section>\d+(?:\.\d+)?)[. ]", re.MULTILINE)


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = []
    for name in names.splitlines():
        path = ROOT / name
        if path.suffix in {".py", ".md", ".sql", ".txt", ".toml", ".yml", ".yaml", ".cfg", ".ini"} or path.name in {
            "Makefile",
            "Dockerfile",
        }:
            files.append(path)
    return files


def test_nothing_cites_notes_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_text_files()
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert found == [], "cite docs/ instead:\n" + "\n".join(found)


def test_every_cited_docs_section_exists() -> None:
    sections = {
        doc.name: {match["section"] for match in HEADING.finditer(doc.read_text())}
        for doc in (ROOT / "docs").glob("*.md")
    }
    missing = [
        f"{path.relative_to(ROOT)}: docs/{match['file']} §{match['section']}"
        for path in tracked_text_files()
        for match in CITATION.finditer(path.read_text(errors="replace"))
        if match["section"] not in sections.get(match["file"], set())
    ]
    assert missing == [], "cited sections that docs/ does not have:\n" + "\n".join(missing)
