"""`mammolens [PATHS...]` / `--demo` argument handling of the GUI entry point."""

from pathlib import Path

from viewer.qt import app


def test_parse_args_takes_paths_and_demo() -> None:
    args = app.parse_args(["a.dcm", "folder", "--demo"])
    assert args.paths == [Path("a.dcm"), Path("folder")] and args.demo
    assert not app.parse_args([]).demo


def test_demo_paths_are_the_four_views(monkeypatch, tmp_path) -> None:
    from viewer.commands import demo

    files = tuple(tmp_path / f"{name}.dcm" for name in ("RCC", "LCC", "RMLO", "LMLO"))

    class Study:
        image_paths = files

    monkeypatch.setattr(demo, "ensure_demo_study", lambda: Study())
    assert app.demo_paths() == list(files)
