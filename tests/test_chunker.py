from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ponder.ingest import chunk_document
from ponder.text import estimate_tokens
from tests.conftest import read, write

ENGLISH = (
    "The cooperative was founded in 1952. It had twelve members. They grew tea on the hills above the river.\n\n"
    "Prices rose in 2023 by 3.5 percent. Members were paid monthly. The board met in spring! Was it enough? "
    "Nobody could say for sure.\n\n"
    "A third paragraph closes the text. It is short."
)
CHINESE = (
    "青溪村图书馆建于1998年。馆内藏书约一万二千册！其中农业技术类图书约占三成；其余为文学和历史。"
    "图书馆每周一闭馆？是的，每周一闭馆整理图书。\n\n"
    "持本村居民证可以免费办理借书证。每张借书证最多同时借阅五本书。借期为三十天，可以续借一次。"
)


def _chunks(tmp_path: Path, name: str, text: str, size: int, overlap: int):
    document, _ = read(write(tmp_path / name, text))
    return document, chunk_document(document, size, overlap)


@pytest.mark.parametrize("text", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_spans_are_exact_and_sizes_respected(tmp_path: Path, text: str) -> None:
    document, chunks = _chunks(tmp_path, "doc.txt", text, size=24, overlap=6)
    assert len(chunks) > 2
    for chunk in chunks:
        assert document.text[chunk.start:chunk.end] == chunk.text
        assert estimate_tokens(chunk.text) <= 24 + 1  # unit estimates round per sentence
    # Every sentence of the text is in some chunk.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(document.text) if not ch.isspace())


def test_english_chunks_end_at_sentence_ends(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "doc.txt", ENGLISH, size=24, overlap=0)
    for chunk in chunks:
        assert chunk.text[-1] in ".!?", chunk.text
    # "3.5" is a number, not a sentence end
    assert not any(chunk.text.endswith("3.") for chunk in chunks)


def test_chinese_chunks_end_at_chinese_sentence_ends(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "doc.txt", CHINESE, size=30, overlap=0)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.text[-1] in "。！？；", chunk.text


def test_overlap_repeats_whole_sentences(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "doc.txt", CHINESE, size=30, overlap=12)
    overlapping = [(a, b) for a, b in zip(chunks, chunks[1:]) if b.start < a.end]
    assert overlapping, "expected consecutive chunks to share text"
    for a, b in overlapping:
        shared = a.text[b.start - a.start:]
        assert shared and shared[-1] in "。！？；"  # the repeated part is whole sentences
        assert estimate_tokens(shared) <= 12
    _, no_overlap = _chunks(tmp_path, "doc2.txt", CHINESE, size=30, overlap=0)
    assert all(b.start >= a.end for a, b in zip(no_overlap, no_overlap[1:]))


def test_paragraphs_kept_together_when_they_fit(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "doc.txt", ENGLISH, size=200, overlap=0)
    assert len(chunks) == 1
    _, chunks = _chunks(tmp_path, "doc.txt", ENGLISH, size=45, overlap=0)
    # 45 tokens hold the first paragraph but not the first two: the cut falls at the paragraph break
    assert chunks[0].text.endswith("above the river.")


def test_long_text_without_punctuation_is_cut_to_the_limit(tmp_path: Path) -> None:
    document, chunks = _chunks(tmp_path, "doc.txt", "茶" * 500, size=64, overlap=8)
    assert len(chunks) >= 8
    assert all(estimate_tokens(c.text) <= 64 for c in chunks)
    assert "".join(c.text for c in chunks) == document.text.strip()


def test_markdown_heading_paths_and_no_mixed_sections(tmp_path: Path) -> None:
    text = ("# Guide\n\nIntro text here.\n\n## Install\n\nRun the installer. Then reboot.\n\n"
            "### Linux\n\nUse the package.\n\n```\n# not a heading\n```\n\n## Use\n\nAsk questions.\n")
    document, chunks = _chunks(tmp_path, "guide.md", text, size=300, overlap=0)
    paths = [c.heading_path for c in chunks]
    assert paths == [("Guide",), ("Guide", "Install"), ("Guide", "Install", "Linux"), ("Guide", "Use")]
    assert "# not a heading" in chunks[2].text
    assert chunks[3].text.startswith("## Use")


def test_chunk_ids_are_deterministic_and_content_derived(tmp_path: Path) -> None:
    _, first = _chunks(tmp_path, "doc.txt", ENGLISH, size=24, overlap=6)
    _, again = _chunks(tmp_path, "doc.txt", ENGLISH, size=24, overlap=6)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    _, edited = _chunks(tmp_path, "doc.txt", ENGLISH.replace("1952", "1953"), size=24, overlap=6)
    assert first[0].id != edited[0].id
    assert first[-1].id == edited[-1].id  # untouched text keeps its id


def test_pdf_chunks_carry_page_ranges(tmp_path: Path) -> None:
    pdf = pymupdf.open()
    for number in (1, 2, 3):
        page = pdf.new_page()
        page.insert_text((72, 300), f"Page {number} talks about topic number {number}.")
    pdf.save(tmp_path / "three.pdf")
    document, _ = read(tmp_path / "three.pdf", pdf_engine="text")
    assert document.page_count == 3 and len(document.page_starts) == 3
    whole = chunk_document(document, 100, 0)
    assert [(c.page, c.page_end) for c in whole] == [(1, 3)]  # pages are not sections: one chunk spans them
    small = chunk_document(document, 12, 0)
    assert [(c.page, c.page_end) for c in small] == [(1, 1), (2, 2), (3, 3)]
    assert "topic number 2" in small[1].text


TABLE = "| Year | Tonnes | Price |\n| --- | --- | --- |\n" + "".join(
    f"| {2000 + n} | {10 + n} | {5 + n / 10:.2f} euros per kilogram |\n" for n in range(24))


def test_small_table_stays_whole_in_one_chunk(tmp_path: Path) -> None:
    text = "# Report\n\nIntro sentence.\n\n" + TABLE[:200].rsplit("\n", 1)[0] + "\n\nAfter the table.\n"
    _, chunks = _chunks(tmp_path, "report.md", text, size=300, overlap=0)
    assert len(chunks) == 1 and "| Year | Tonnes | Price |" in chunks[0].text


def test_big_table_is_split_by_rows_with_the_header_repeated(tmp_path: Path) -> None:
    text = "# Prices\n\nThe table below lists prices.\n\n" + TABLE + "\nThat was the table.\n"
    document, chunks = _chunks(tmp_path, "prices.md", text, size=80, overlap=20)
    table_chunks = [c for c in chunks if "euros per kilogram" in c.text]
    assert len(table_chunks) >= 3
    rows = []
    for chunk in table_chunks:
        lines = chunk.text.splitlines()
        table_lines = [line for line in lines if line.startswith("|")]
        assert table_lines[0] == "| Year | Tonnes | Price |" and table_lines[1] == "| --- | --- | --- |"
        for line in table_lines[2:]:
            assert line.endswith("euros per kilogram |"), "a row was cut"
            rows.append(line)
        assert estimate_tokens(chunk.text) <= 80 + 2
        assert document.text[chunk.start:chunk.end] in chunk.text  # the span, plus the repeated header
    assert rows == [line for line in TABLE.splitlines()[2:]]  # every row exactly once, in order
    assert all(c.heading_path == ("Prices",) for c in chunks)


REPORT_TABLE = "| | Years Ended September 30, | |\n|---|---|---|\n| | 2019 | 2018 |\n" + "".join(
    f"| Segment {n} revenue | {1000 + n * 37:,}.5 | {900 + n * 31:,}.2 |\n" for n in range(30))


@pytest.mark.parametrize("before, note", [
    ("Revenue by segment (in millions) is shown below.", "(in millions)"),
    ("各分部收入如下，单位：万元。", "单位：万元"),
])
def test_a_split_table_repeats_its_header_rows_and_unit_in_every_chunk(tmp_path: Path, before: str,
                                                                       note: str) -> None:
    text = f"# Segments\n\n{before}\n\n{REPORT_TABLE}\nThat was the table.\n"
    document, chunks = _chunks(tmp_path, "segments.md", text, size=90, overlap=0)
    table_chunks = [c for c in chunks if "Segment" in c.text and "revenue |" in c.text]
    assert len(table_chunks) >= 3
    for chunk in table_chunks:
        assert note in chunk.text.splitlines()[0] or before in chunk.text  # the unit, first or in the sentence
        table_lines = [line for line in chunk.text.splitlines() if line.startswith("|")]
        assert table_lines[:3] == REPORT_TABLE.splitlines()[:3]  # both header rows and the separator
        assert document.text[chunk.start:chunk.end] in chunk.text
    rows = [line for c in table_chunks for line in c.text.splitlines() if line.startswith("| Segment")]
    assert rows == REPORT_TABLE.splitlines()[3:]  # every row once, in order


def test_a_table_without_a_stated_unit_gets_no_note(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "prices.md", f"# Prices\n\nThe table below lists prices.\n\n{TABLE}", 80, 0)
    assert all(not c.text.startswith("(") for c in chunks)


def test_code_blocks_are_not_cut_mid_line_and_keep_their_fence(tmp_path: Path) -> None:
    code = "```python\n" + "".join(f"value_{n} = compute({n}, scale=2)  # step {n}\n" for n in range(40)) + "```\n"
    _, chunks = _chunks(tmp_path, "code.md", "# Code\n\n" + code, size=90, overlap=10)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.text.startswith("# Code") or chunk.text.startswith("```python")
        assert chunk.text.rstrip().endswith("```")
        for line in chunk.text.splitlines():
            assert not line or line.startswith(("```", "value_", "# Code")), line


def test_heading_only_sections_make_no_chunk(tmp_path: Path) -> None:
    text = "# Handbook\n\n## 1 Safety\n\nWear a life jacket.\n\n## 2 Boats\n\n### 2.1 Jetty\n\nBoats stay in.\n"
    _, chunks = _chunks(tmp_path, "h.md", text, size=200, overlap=0)
    assert [c.heading_path for c in chunks] == [("Handbook", "1 Safety"), ("Handbook", "2 Boats", "2.1 Jetty")]


def test_emphasis_is_stripped_from_heading_paths(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "h.md", "# **5.1 Hyper Parameter _Optimization_**\n\nText here.\n", 100, 0)
    assert chunks[0].heading_path == ("5.1 Hyper Parameter Optimization",)


def test_plain_text_is_not_read_as_markdown(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path, "notes.txt", "# not a heading in a .txt\n\nSome notes.\n", 100, 0)
    assert chunks[0].heading_path == () and chunks[0].text.startswith("# not a heading")


def test_e5_tokenizer_counts_chinese_and_english() -> None:
    from ponder.text import token_counter

    count = token_counter("e5")
    assert count("") == 0
    assert 1 <= count("hello world") <= 4
    chinese = "青溪村图书馆建于1998年，由村民集资修建。"
    assert 5 <= count(chinese) < len(chinese)  # SentencePiece merges common Chinese words
    assert count("word " * 600) >= 600  # not truncated at the model's 512-token window
