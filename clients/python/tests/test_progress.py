"""fdag.progress: which bar each ``progress=`` value gives, and what it shows."""

import sys

import pytest

from fdag.progress import in_notebook, progress_bar


def test_false_shows_nothing(capsys):
    with progress_bar(False, total=3, desc="x") as bar:
        bar.update(2)
    assert not bar.enabled
    assert bar.done == 2
    assert capsys.readouterr().err == ""


def test_callable_is_called_with_done_and_total():
    calls = []
    with progress_bar(lambda done, total: calls.append((done, total)), total=4) as bar:
        bar.update(1)
        bar.update(3)
        bar.set_total(5)
        bar.update(1)
    assert calls == [(1, 4), (4, 4), (5, 5)]


def test_true_draws_a_text_bar_on_stderr(capsys):
    pytest.importorskip("tqdm")
    with progress_bar(True, total=10, desc="fetch", unit="endpoint") as bar:
        for _ in range(10):
            bar.update(1)
    err = capsys.readouterr().err
    assert "fetch" in err
    assert "10/10" in err
    assert "endpoint" in err


def test_unknown_total_can_be_set_later(capsys):
    pytest.importorskip("tqdm")
    with progress_bar(True, desc="read") as bar:
        bar.update(5)
        bar.set_total(5)
    assert "5/5" in capsys.readouterr().err


def test_default_outside_a_notebook_and_terminal_shows_nothing(capsys):
    # pytest captures stderr, so it is not a terminal, and this is no kernel.
    assert not in_notebook()
    with progress_bar(None, total=3) as bar:
        bar.update(3)
    assert not bar.enabled
    assert capsys.readouterr().err == ""


def test_true_without_tqdm_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    with pytest.raises(ImportError, match="pip install tqdm"):
        progress_bar(True, total=1)
    # The default quietly has no bar: a missing optional extra is not an error there.
    assert not progress_bar(None, total=1).enabled


def test_bad_value_is_a_type_error():
    with pytest.raises(TypeError, match="progress must be"):
        progress_bar("yes")  # type: ignore[arg-type]
