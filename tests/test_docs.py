"""The documentation matches the code: every setting documented, every route in the API docs,
nothing cited from outside the repository."""

import re
from pathlib import Path

from vectrain.core.config import Settings, settings_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented():
    documented = (ROOT / "docs" / "SETTINGS.md").read_text()
    assert documented == settings_markdown(), (
        "docs/SETTINGS.md is out of date: run `python -m vectrain.core.config > docs/SETTINGS.md`"
    )
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
    readme = (ROOT / "README.md").read_text()
    assert "docs/SETTINGS.md" in readme


def test_nothing_cites_files_or_trackers_outside_the_repo():
    pattern = re.compile(r"DESIGN\.md|\bissue #?\d+|\(issue\b|\.\./shared/DESIGN")
    offenders = []
    for path in [
        *ROOT.glob("vectrain/**/*.py"),
        *ROOT.glob("vectrain/**/*.sql"),
        *ROOT.glob("vectrain/**/*.js"),
        *ROOT.glob("docs/*.md"),
        ROOT / "README.md",
    ]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_no_sql_text_outside_sql_and_the_builder():
    """SQL lives in storage/sql/ and storage/vectorsql/: a statement elsewhere is a leak of the boundary."""
    statement = re.compile(
        r"[\"'](SELECT|INSERT INTO|CREATE (TABLE|VIEW|FUNCTION)|ALTER TABLE|DROP (TABLE|DATABASE)|"
        r"OPTIMIZE TABLE)\b"
    )
    offenders = []
    paths = list(ROOT.glob("vectrain/**/*.py"))
    assert len(paths) > 50, "the package's modules were not found"
    for path in paths:
        if "vectorsql" in path.parts:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if statement.search(line) and "examples=" not in line:  # an example shown in the API docs
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_scale_sections_are_the_stored_figures():
    """Each `At N rows` section of BENCHMARKS.md is what bench.scale renders from its stored run
    (bench/plots/scale_*.json): a figure edited by hand, or a wording changed in the code without
    `python -m bench.scale --render`, fails here."""
    import argparse
    import json

    from bench import scale
    from bench.report import BENCHMARKS, PLOTS

    text = BENCHMARKS.read_text()
    checked = []
    for path in sorted(PLOTS.glob("scale_*.json")):
        start, end = f"<!-- bench:{path.stem} -->", f"<!-- /bench:{path.stem} -->"
        if start not in text:
            continue
        written = text.split(start, 1)[1].split(end, 1)[0].strip()
        rendered = scale.report(argparse.Namespace(repeats=30, labels=100), json.loads(path.read_text())).strip()
        assert written == rendered, (
            f"BENCHMARKS.md's {path.stem} differs from its stored figures: run `python -m bench.scale --render`"
        )
        checked.append(path.stem)
    assert checked, "no scale section found in BENCHMARKS.md"
