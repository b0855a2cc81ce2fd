"""The documentation stays navigable (issue 22, point 4): the README is the
front door and fits on a few screens, every relative link of the README and
docs/ reaches an existing file and heading, and every "SPEC §n" cited
anywhere in the repository names a section of docs/SPEC.md."""

from __future__ import annotations

import os
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SPEC = DOCS / "SPEC.md"

README_MAX_LINES = 300
# `[text](target)`: the target of a Markdown link.
LINK = re.compile(r"\]\(([^)\s]+)\)")
# `SPEC §5`, `SPEC §5, §7`, `SPEC section 9`, also across a line break.
CITATION = re.compile(r"SPEC\s+(?:§\s*\d+(?:\s*,\s*§\s*\d+)*|sections?\s+\d+)")


def _pages() -> list[pathlib.Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (blanked inside them, so line
    numbers stay right), with inline code spans removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped
    (letters, digits, `_` and `-` kept), spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: pathlib.Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    fenced = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if heading:
            slug = github_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(pages: list[pathlib.Path]) -> list[str]:
    broken = []
    for page in pages:
        for number, line in enumerate(_prose(page.read_text()), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # https:, mailto:
                path, _, anchor = target.partition("#")
                destination = (page.parent / path).resolve() if path else page
                where = f"{page.relative_to(ROOT)}:{number}: {target}"
                if not destination.exists():
                    broken.append(f"{where}: no such file")
                elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
                    broken.append(f"{where}: no heading with the anchor `{anchor}`")
    return broken


def spec_sections() -> set[int]:
    return {int(n) for n in re.findall(r"^## (\d+)\. ", SPEC.read_text(), re.M)}


def _repository_files() -> list[pathlib.Path]:
    """Every file of the working tree but build output, virtualenvs and git's
    own (the citations live in code, tests, scripts, the template, docs)."""
    skipped = {".git", "target", ".aws-sam", "__pycache__", ".pytest_cache"}
    files = []
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in skipped and not d.startswith(".venv")]
        files.extend(pathlib.Path(directory) / name for name in names)
    return [path for path in files if path != SPEC]


def spec_citations(files: list[pathlib.Path]) -> list[tuple[str, int]]:
    """Each section number cited, with where: `path:line: 'SPEC §7'`."""
    cited = []
    for path in files:
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for citation in CITATION.finditer(text):
            line = text.count("\n", 0, citation.start()) + 1
            where = f"{path.relative_to(ROOT)}:{line}: {citation.group(0)!r}"
            cited.extend((where, int(number)) for number in re.findall(r"\d+", citation.group(0)))
    return cited


def test_the_readme_fits_on_a_few_screens() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; depth belongs in docs/"


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {target.partition("#")[0] for target in LINK.findall(README.read_text())}
    unlinked = [p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in linked]
    assert not unlinked, unlinked


def test_every_relative_link_reaches_a_file_and_a_heading() -> None:
    assert not broken_links(_pages()), "\n".join(broken_links(_pages()))


def test_github_slugs_drop_punctuation_and_code_marks() -> None:
    assert github_slug("Operator CLI: `scaling-guard`") == "operator-cli-scaling-guard"
    assert (
        github_slug("7. Budgets and surge suspension (budget-guard and the admission check)")
        == "7-budgets-and-surge-suspension-budget-guard-and-the-admission-check"
    )


def test_every_spec_citation_names_a_section_of_docs_spec() -> None:
    sections = spec_sections()
    assert sections == set(range(1, 13)), sections
    cited = spec_citations(_repository_files())
    # The code cites the contract throughout: finding none means the search broke.
    assert len(cited) > 30, cited
    missing = [where for where, number in cited if number not in sections]
    assert not missing, "\n".join(missing)
