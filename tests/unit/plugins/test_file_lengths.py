"""No Python file under plugins/ is longer than 500 lines, so that a newcomer finds a check group or a
client by its file's name and can read the file through (issue 13: the health checks were one file of
1,400 lines; they are one file per group in plugins/plugin_utils/health/)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MAX_LINES = 500


def test_no_plugin_file_is_longer_than_500_lines():
    lengths = {
        path.relative_to(REPO).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((REPO / "plugins").rglob("*.py"))
    }
    assert "plugins/filter/health.py" in lengths  # the walk sees the plugins
    too_long = {path: length for path, length in lengths.items() if length > MAX_LINES}
    assert not too_long, f"longer than {MAX_LINES} lines, split them into files named for what they hold: {too_long}"
