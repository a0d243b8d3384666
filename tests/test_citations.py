from ponder.reason.citations import resolve_citations
from ponder.types import Chunk, Hit


def _hits(*texts: str) -> list[tuple[int, Hit]]:
    """Passages numbered 1..n, as a prompt shows them."""
    return [
        (n, Hit(Chunk(id=f"c{n}", document_id="d", path=f"/docs/{n}.txt", text=text, start=0, end=len(text), page=n),
                score=1.0, retriever="bm25", rank=n))
        for n, text in enumerate(texts, start=1)
    ]


def test_numbers_need_not_be_contiguous() -> None:
    numbered = [(n, hit) for n, (_, hit) in zip((3, 7), _hits("alpha", "beta"))]
    text, citations, invalid = resolve_citations("Beta [7], alpha [3], nothing [1].", numbered)
    assert [(c.marker, c.chunk_id) for c in citations] == [(7, "c2"), (3, "c1")] and invalid == [1]
    assert text == "Beta [7], alpha [3], nothing."


def test_model_markers_resolve_to_chunks_in_order_of_use() -> None:
    hits = _hits("alpha", "beta", "gamma")
    text, citations, invalid = resolve_citations("Beta holds [2], and alpha too [1, 2].", hits)
    assert [c.chunk_id for c in citations] == ["c2", "c1"]
    assert [c.marker for c in citations] == [2, 1]
    assert all(c.source == "model" for c in citations)
    assert citations[0].page == 2 and citations[0].path == "/docs/2.txt"
    assert invalid == [] and text == "Beta holds [2], and alpha too [1, 2]."


def test_full_width_and_chinese_list_markers() -> None:
    hits = _hits("甲", "乙", "丙")
    _, citations, _ = resolve_citations("答案见【1】和[2、3]。", hits)
    assert [c.marker for c in citations] == [1, 2, 3]


def test_invalid_markers_are_removed_and_reported() -> None:
    hits = _hits("The oolong is roasted for eight hours.", "other")
    text, citations, invalid = resolve_citations("[4] Roasted for eight hours [1][9].", hits)
    assert text == "Roasted for eight hours [1]."
    assert invalid == [4, 9]
    assert [c.chunk_id for c in citations] == ["c1"]


def test_uncited_answer_is_attributed_by_overlap_and_marked() -> None:
    hits = _hits("Mount Fuji is 3,776 metres high.", "The oolong is roasted over charcoal for eight hours.")
    text, citations, _ = resolve_citations("The oolong is roasted for eight hours.", hits)
    assert [(c.chunk_id, c.source) for c in citations] == [("c2", "overlap")]
    _, chinese, _ = resolve_citations("每周一闭馆。", _hits("开放时间：每周一闭馆整理图书。", "无关内容"))
    assert [c.chunk_id for c in chinese] == ["c1"]


def test_unrelated_uncited_answer_gets_no_citation() -> None:
    hits = _hits("Mount Fuji is 3,776 metres high.")
    _, citations, _ = resolve_citations("Bananas are yellow when ripe.", hits)
    assert citations == []
    _, citations, _ = resolve_citations("", hits)
    assert citations == []
