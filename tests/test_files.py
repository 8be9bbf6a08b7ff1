"""``symback/files.py``: output files are replaced all together or not at all."""

import os
import signal

import pytest

from symback.files import signals_held, write_atomic, write_together


def test_all_files_are_written(tmp_path):
    written = write_together({tmp_path / "a.md": "new a", tmp_path / "sub" / "b.pdf": b"%PDF new"})
    assert written == [tmp_path / "a.md", tmp_path / "sub" / "b.pdf"]
    assert (tmp_path / "a.md").read_text() == "new a" and (tmp_path / "sub" / "b.pdf").read_bytes() == b"%PDF new"
    assert sorted(p.name for p in tmp_path.rglob(".*")) == []  # no temporary file left


def test_a_failure_while_writing_leaves_every_previous_file(tmp_path):
    write_together({tmp_path / "a.md": "old a", tmp_path / "b.md": "old b"})
    with pytest.raises(TypeError):  # the second file cannot be written: the first is not replaced either
        write_together({tmp_path / "a.md": "new a", tmp_path / "b.md": 12345})
    assert (tmp_path / "a.md").read_text() == "old a" and (tmp_path / "b.md").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md"]


def test_a_signal_during_the_renames_waits_until_all_are_done(tmp_path, monkeypatch):
    write_together({tmp_path / "a.md": "old a", tmp_path / "b.md": "old b"})
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after the first rename

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_together({tmp_path / "a.md": "new a", tmp_path / "b.md": "new b"})
    assert (tmp_path / "a.md").read_text() == "new a" and (tmp_path / "b.md").read_text() == "new b"


def test_signals_held_delivers_afterwards():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the signal, inside the block")
    assert reached == ["after the signal, inside the block"]


def test_write_atomic_replaces_one_file(tmp_path):
    write_atomic(tmp_path / "x.json", "1")
    write_atomic(tmp_path / "x.json", "2")
    assert (tmp_path / "x.json").read_text() == "2" and len(list(tmp_path.iterdir())) == 1


def test_output_files_get_the_usual_mode(tmp_path):
    import os

    from symback.files import write_atomic

    mask = os.umask(0o022)
    os.umask(mask)
    write_atomic(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")  # what open() gives
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == (tmp_path / "b.txt").stat().st_mode & 0o777


def test_a_rename_failing_midway_rolls_back_the_ones_done(tmp_path, monkeypatch):
    import errno

    from symback.files import OutputError

    write_together({tmp_path / "a.md": "old a", tmp_path / "b.md": "old b"})
    real_replace, calls = os.replace, []

    def replace_fails_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EROFS, "Read-only file system")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_fails_second)
    with pytest.raises(OutputError, match=r"cannot write .*b\.md: the file system is read-only; nothing was changed"):
        write_together({tmp_path / "a.md": "new a", tmp_path / "b.md": "new b", tmp_path / "new" / "c.md": "c"})
    assert (tmp_path / "a.md").read_text() == "old a" and (tmp_path / "b.md").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md"]  # no temporary, no new folder


def test_a_full_disk_is_one_error_naming_the_file(tmp_path, monkeypatch):
    import errno

    from symback.files import OutputError, Staging

    write_together({tmp_path / "a.md": "old a"})
    with pytest.raises(OutputError, match=r"^cannot write .*log\.xml: the disk is full; nothing was changed$"):
        with Staging() as out:
            out.write(tmp_path / "a.md", "new a")
            log = out.open(tmp_path / "log.xml")
            monkeypatch.setattr(log.file, "write", lambda text: (_ for _ in ()).throw(OSError(errno.ENOSPC, "")))
            log.write("<testsuites>")
    assert (tmp_path / "a.md").read_text() == "old a" and sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
