"""README's quickstart is what CI runs: the test command there and in .ci/run are the same line."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_quickstart_has_exactly_two_commands_demo_then_tests():
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert commands[0].endswith(".venv/bin/traceglass demo")
    assert commands[1].endswith(".venv/bin/python -m pytest -q")


def test_ci_runs_the_readme_test_command_verbatim_with_the_venvs_own_pip():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert _quickstart_commands()[1] in lines
    # upgrading pip first would hide a dependency that the pip a fresh venv bundles cannot resolve
    assert not any("install" in line and "--upgrade pip" in line for line in lines)


def test_no_requirement_is_satisfiable_only_by_pre_releases_without_naming_one():
    """pip ignores pre-releases unless a specifier names one: an upper bound alone on a package that
    only ships pre-releases (opentelemetry-util-genai) resolves to nothing for a venv's bundled pip."""
    from packaging.requirements import Requirement

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for name in ("opentelemetry-util-genai", "opentelemetry-instrumentation-openai-v2"):
        specs = re.findall(rf'"({re.escape(name)}[^"]*)"', text)
        assert specs, name
        for spec in specs:
            requirement = Requirement(spec)
            assert any(s.version and re.search(r"(a|b|rc)\d+$", s.version) for s in requirement.specifier), spec
