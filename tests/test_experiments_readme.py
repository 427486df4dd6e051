import os
import re

from experiments import readme
from experiments.common import RESULTS_DIR


def test_readme_shows_every_question_with_existing_figures(tmp_path):
    out = tmp_path / "README.md"
    assert readme.main(["--out", str(out)]) == 0
    text = out.read_text()
    for folder, names, claim, verdict in readme.QUESTIONS:
        assert f"python -m experiments.{folder}" in text
        assert verdict in text and claim in text
        for name in names:
            assert os.path.exists(os.path.join(RESULTS_DIR, folder, f"{name}.md"))
    figures = re.findall(r"!\[[^\]]*\]\(results/([^)]+)\)", text)
    assert len(figures) >= len(readme.QUESTIONS)
    assert all(os.path.exists(os.path.join(RESULTS_DIR, f)) for f in figures)


def test_committed_readme_is_up_to_date(tmp_path):
    out = tmp_path / "README.md"
    readme.main(["--out", str(out)])
    committed = os.path.join(os.path.dirname(RESULTS_DIR), "README.md")
    assert open(committed).read() == out.read_text()
