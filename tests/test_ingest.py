"""Ingesting a batch with bad files in it: each bad file gets a message naming it; the rest goes in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from tests.conftest import EXAMPLES, REPO, write


def _bad_batch(folder: Path) -> dict[str, Path]:
    files = {
        "good": write(folder / "good.txt", "Solar panels convert sunlight into electricity."),
        "good_zh": write(folder / "子目录" / "好文件 中文.md", "# 太阳能\n\n太阳能电池板把阳光转换成电能。"),
        "empty": write(folder / "empty.txt", ""),
        "blank": write(folder / "blank.md", "  \n\n  "),
        "unknown": write(folder / "image.xyz", "not a supported type"),
    }
    files["binary"] = folder / "binary.txt"
    files["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    scanned = pymupdf.open()
    page = scanned.new_page()
    page.draw_rect(pymupdf.Rect(50, 50, 300, 300), fill=(0.2, 0.2, 0.2))  # an image-like page, no text
    scanned.save(folder / "scanned.pdf")
    files["scanned"] = folder / "scanned.pdf"
    files["fake_pdf"] = write(folder / "page.pdf", "<html><body>not a pdf</body></html>")
    files["gbk"] = folder / "gbk.txt"
    files["gbk"].write_bytes("编码为国标的中文文件。".encode("gb18030"))
    return files


def test_bad_files_are_reported_and_the_rest_ingests(make_ponder, tmp_path: Path) -> None:
    _bad_batch(tmp_path / "batch")
    missing = tmp_path / "no-such-folder"
    ponder = make_ponder()
    report = ponder.ingest([tmp_path / "batch", missing])
    by_name = {Path(o.path).name: o for o in report.files}

    assert by_name["good.txt"].status == "ingested"
    assert by_name["好文件 中文.md"].status == "ingested"
    assert by_name["gbk.txt"].status == "ingested"
    for name in ("empty.txt", "blank.md"):
        assert by_name[name].status == "skipped" and "empty" in by_name[name].message
    assert by_name["image.xyz"].status == "skipped" and "unsupported file type '.xyz'" in by_name["image.xyz"].message
    assert by_name["binary.txt"].status == "failed" and "binary" in by_name["binary.txt"].message
    assert by_name["scanned.pdf"].status == "failed" and "no text layer" in by_name["scanned.pdf"].message
    assert by_name["page.pdf"].status == "failed" and "not a readable PDF" in by_name["page.pdf"].message
    assert by_name["no-such-folder"].status == "failed" and "no such file" in by_name["no-such-folder"].message
    for outcome in report.files:
        if outcome.status in ("skipped", "failed"):
            assert outcome.message.startswith(str(Path(outcome.path))), outcome.message  # names the file

    assert {Path(d.path).name for d in ponder.documents()} == {"good.txt", "好文件 中文.md", "gbk.txt"}
    assert Path(ponder.search("太阳能电池板", top_k=1)[0].chunk.path).name == "好文件 中文.md"
    assert Path(ponder.search("国标编码", top_k=1)[0].chunk.path).name == "gbk.txt"


def test_a_failing_file_does_not_remove_what_was_indexed(make_ponder, tmp_path: Path) -> None:
    good = write(tmp_path / "notes.txt", "Wind turbines turn wind into electricity.")
    ponder = make_ponder()
    ponder.ingest([good])
    good.write_bytes(b"\x00\x01\x02 broken now")
    report = ponder.ingest([good])
    assert report.count("failed") == 1
    assert Path(ponder.search("wind turbines", top_k=1)[0].chunk.path).name == "notes.txt"


def test_pages_without_text_are_warned_about(make_ponder, tmp_path: Path) -> None:
    pdf = pymupdf.open()
    pdf.new_page().insert_text((72, 72), "A page with text on it.")
    pdf.new_page().draw_rect(pymupdf.Rect(10, 10, 100, 100), fill=(0, 0, 0))
    pdf.save(tmp_path / "mixed.pdf")
    report = make_ponder().ingest([tmp_path / "mixed.pdf"])
    assert report.count("ingested") == 1
    assert any(w.endswith("mixed.pdf: page 2 has no text; OCR is off") for w in report.warnings)
    assert "A page with text on it." in make_ponder().store.chunks_of(report.files[0].document_id)[0].text


def test_files_over_the_size_limit_are_refused(make_ponder, tmp_path: Path) -> None:
    big = write(tmp_path / "big.txt", "word " * 300_000)  # 1.5 MB
    report = make_ponder(**{"ingest.max_file_mb": 1}).ingest([big])
    assert report.files[0].status == "failed"
    assert "over the limit" in report.files[0].message and "ingest.max_file_mb" in report.files[0].message


def test_cli_ingest_exits_non_zero_and_names_bad_files(tmp_path: Path) -> None:
    files = _bad_batch(tmp_path / "batch")
    result = subprocess.run(
        [sys.executable, "-m", "ponder.cli", "--data-dir", str(tmp_path / "data"), "ingest", str(tmp_path / "batch")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "binary.txt" in result.stderr and "scanned.pdf" in result.stderr and "image.xyz" in result.stderr
    assert "3 ingested" in result.stdout and "3 failed" in result.stdout and "3 skipped" in result.stdout
    assert files["good"].name in result.stdout


def test_cli_ingest_json_report(tmp_path: Path) -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-m", "ponder.cli", "--data-dir", str(tmp_path / "data"), "ingest", "--json", str(EXAMPLES)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {Path(f["path"]).name for f in report["files"] if f["status"] == "ingested"} == {
        p.name for p in EXAMPLES.iterdir()}
    assert all(f["chunks"] > 0 for f in report["files"])


def test_more_bad_files(make_ponder, tmp_path: Path) -> None:

    folder = tmp_path / "bad"
    folder.mkdir()
    real = pymupdf.open()
    for number in range(3):
        real.new_page().insert_text((72, 300), f"Page {number} of a real document about river safety.")
    whole = real.tobytes()
    (folder / "truncated.pdf").write_bytes(whole[: len(whole) // 3])
    (folder / "zero.pdf").write_bytes(b"")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    with open(folder / "huge.txt", "wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200 * 2**20)
    locked = write(folder / "locked.txt", "secret")
    os.chmod(locked, 0)
    write(folder / "河流 安全 notes.md", "# 河流安全\n\n下水必须穿救生衣。")

    ponder = make_ponder(**{"ingest.max_file_mb": 50})
    if os.geteuid() == 0:  # root reads any file: make this one unreadable the way the OS would
        real_read_bytes = Path.read_bytes

        def refuse(path: Path) -> bytes:
            if path.name == "locked.txt":
                raise PermissionError(13, "Permission denied", str(path))
            return real_read_bytes(path)

        import unittest.mock

        with unittest.mock.patch.object(Path, "read_bytes", refuse):
            report = ponder.ingest([folder])
    else:
        report = ponder.ingest([folder])
    by_name = {Path(o.path).name: o for o in report.files}

    assert by_name["河流 安全 notes.md"].status == "ingested"
    assert by_name["zero.pdf"].status == "skipped" and "empty" in by_name["zero.pdf"].message
    assert by_name["huge.txt"].status == "failed"
    assert "200.0 MB, over the limit of 50.0 MB" in by_name["huge.txt"].message
    assert by_name["locked.txt"].status == "failed" and "permission denied" in by_name["locked.txt"].message
    assert by_name["broken.docx"].status == "failed" and "not a readable DOCX" in by_name["broken.docx"].message
    truncated = by_name["truncated.pdf"]
    assert truncated.status in ("failed", "ingested")  # MuPDF repairs what it can; either way, no crash
    if truncated.status == "failed":
        assert truncated.message.startswith(str(folder / "truncated.pdf"))
    for outcome in report.files:
        assert "\n" not in outcome.message  # one line per problem
    assert "1 ingested" in report.summary() or "2 ingested" in report.summary()


def test_prune_and_remove(make_ponder, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    keep = write(folder / "keep.txt", "The ferry leaves at seven.")
    gone = write(folder / "sub" / "gone.txt", "The bus leaves at eight.")
    other = write(tmp_path / "elsewhere" / "other.txt", "The train leaves at nine.")
    ponder = make_ponder()
    ponder.ingest([folder, other])
    gone.unlink()

    report = ponder.ingest([folder])  # without --prune nothing is removed
    assert report.removed == [] and len(ponder.documents()) == 3
    report = ponder.ingest([folder], prune=True)
    assert report.removed == [str(gone.resolve())] and "1 removed" in report.summary()
    assert {Path(d.path).name for d in ponder.documents()} == {"keep.txt", "other.txt"}  # outside: untouched
    assert not any("bus" in hit.chunk.text for hit in ponder.search("bus eight", top_k=10))

    assert ponder.store.vector_count() == ponder.store.chunk_count() == 2  # vectors went with their chunks
    assert ponder.remove([other]) == [str(other.resolve())]
    assert ponder.remove([tmp_path / "nothing-here"]) == []
    assert [Path(d.path).name for d in ponder.documents()] == ["keep.txt"]
    assert ponder.search("ferry", top_k=1)[0].chunk.path == str(keep.resolve())


def test_cli_remove_and_docs(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ponder.cli", "--data-dir", str(tmp_path / "data"), *args],
                              capture_output=True, text=True, timeout=120)

    assert cli("ingest", str(EXAMPLES)).returncode == 0
    listing = cli("docs").stdout
    assert "ashby-field-station.pdf: 2 chunks, 2 pages (pdf, ingested 20" in listing and "4 documents" in listing
    removed = cli("remove", str(EXAMPLES / "notes-on-rag.txt"))
    assert removed.returncode == 0 and "1 documents removed" in removed.stdout
    assert "3 documents" in cli("docs").stdout
    assert cli("remove", str(EXAMPLES / "notes-on-rag.txt")).returncode == 1


def test_progress_bar_on_a_terminal_plain_lines_otherwise(tmp_path: Path) -> None:
    import os
    import pty

    folder = tmp_path / "docs"
    for number in range(12):
        write(folder / f"note-{number}.txt", f"Note {number} about the river ferry timetable.")
    write(folder / "empty.md", "")
    command = [sys.executable, "-m", "ponder.cli", "--data-dir", str(tmp_path / "tty"), "ingest", str(folder)]
    primary, secondary = pty.openpty()
    process = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary,
                               env={**os.environ, "COLUMNS": "160", "TERM": "xterm"})
    os.close(secondary)
    screen = b""
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        screen += data
    assert process.wait(60) == 0
    text = screen.decode(errors="replace")
    assert "13/13" in text and "files" in text and "12 chunks" in text and "files/s" in text
    assert "skipped:" in text and "empty.md" in text

    plain = subprocess.run(command[:4] + [str(tmp_path / "plain")] + command[5:], capture_output=True, text=True,
                           timeout=60)
    assert "[13/13] ingested" in plain.stdout and "\x1b[" not in plain.stdout and "files/s" not in plain.stderr


def test_worker_processes_give_the_same_index_as_one_process(make_ponder, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for number in range(10):
        text = (f"# Doc {number}\n\nThe ferry number {number} leaves at {number} o'clock.\n\n"
                f"## 中文\n\n第{number}号渡轮{number}点出发。")
        write(folder / f"doc-{number}.md", text)
    write(folder / "broken.txt", "").write_bytes(b"\x00binary")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 truncated nonsense")
    serial = make_ponder(tmp_path / "serial", **{"ingest.workers": 1})
    parallel = make_ponder(tmp_path / "parallel", **{"ingest.workers": 2})
    serial_report, parallel_report = serial.ingest([folder]), parallel.ingest([folder])

    def summary(report):
        return sorted((Path(o.path).name, o.status, o.chunks, o.message) for o in report.files)

    assert summary(serial_report) == summary(parallel_report)
    assert parallel_report.count("ingested") == 10 and parallel_report.count("failed") == 2
    assert [c for c, _ in serial.store.iter_tokens()] == [c for c, _ in parallel.store.iter_tokens()]
    assert parallel.search("ferry 7", top_k=1)[0].chunk.text == serial.search("ferry 7", top_k=1)[0].chunk.text


def _readme_python_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```python\nfrom ponder import Ponder\n", 1)[1].split("```", 1)[0]
    return "from ponder import Ponder\n" + block


@pytest.mark.slow
def test_the_readmes_python_example_runs_as_written_on_twenty_files(tmp_path: Path) -> None:
    """Saved as a script (no ``__main__`` guard) and piped to Python on stdin: conversion workers
    are plain subprocesses that never import the caller's script, so both work with workers."""
    folder = tmp_path / "examples"
    for number in range(20):
        write(folder / f"note-{number:02d}.md", f"# Note {number}\n\nThe oolong of batch {number} is roasted "
                                               f"for {number + 2} hours.\n")
    script = _readme_python_example()
    assert 'ponder.ingest(["examples/"])' in script and "if __name__" not in script
    (tmp_path / "example.py").write_text(script, encoding="utf-8")
    for how, command, stdin in (("file", [sys.executable, "example.py"], None),
                                ("stdin", [sys.executable, "-"], script)):
        run = subprocess.run(command, input=stdin, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, (how, run.stderr[-2000:])
        assert "BrokenProcessPool" not in run.stderr
        assert ("20 ingested" if how == "file" else "20 unchanged") in run.stdout, (how, run.stdout)
