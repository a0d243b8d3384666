from ponder.index import tokenize


def test_chinese_is_segmented_into_words() -> None:
    tokens = tokenize("中华人民共和国的首都是北京")
    assert "北京" in tokens
    assert "共和国" in tokens  # search mode also emits words inside the compound
    assert "中华人民共和国" in tokens
    assert "的" not in tokens and "是" not in tokens


def test_english_is_lowercased_stemmed_and_stopworded() -> None:
    tokens = tokenize("The Cats were Running quickly to the markets.")
    assert tokens == ["cat", "run", "quick", "market"]


def test_mixed_text_and_punctuation() -> None:
    tokens = tokenize("DeepSeek-R1 模型（推理）在 RAG 中：效果如何？")
    assert "deepseek" in tokens and "r1" in tokens and "rag" in tokens
    assert "推理" in tokens and "模型" in tokens and "效果" in tokens
    assert not any(t in tokens for t in ("（", "：", "？", "-", "如何"))


def test_question_words_do_not_count() -> None:
    assert tokenize("What is the price?") == ["price"]
    assert tokenize("价格是多少？") == ["价格"]
