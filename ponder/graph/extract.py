"""The offline entity extractor (``graph.extractor = "nlp"``): no model, no download.

English: proper-noun phrases found by capitalisation ("Barack Obama", "University of Chicago",
"NASA"), with leading articles and trailing possessives dropped, sentence-initial common words
("However", "The") left out, and short forms aliased to the document's full name ("Obama" →
"Barack Obama", "WHO" → "World Health Organization" when written "World Health Organization (WHO)").
Chinese: jieba's part-of-speech tags — people (nr), places (ns), organisations (nt), other proper
nouns (nz) — and noun compounds. A chunk's document title (its first heading) is an entity of the
chunk too, weighted as what the chunk is about. Entities named in one sentence are related
(``weight`` = sentences), and so is the title to every entity its chunk names.

Example::

    extractor = NLPExtractor()
    graph = extractor.extract([chunk])[0]
    [(m.key, m.type) for m in graph.mentions]   # [("barack obama", "name"), ("北京大学", "organization")]
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter, defaultdict
from itertools import combinations
from typing import Sequence

import jieba
import jieba.posseg

from ponder.index.tokenize import ENGLISH_STOPWORDS
from ponder.text import CJK_RANGES
from ponder.types import Chunk, ChunkGraph, EntityMention, EntityRelation

jieba.setLogLevel(logging.WARNING)

TITLE_WEIGHT = 3.0  # a chunk is about its document's title more than about a name it mentions once
MAX_PER_SENTENCE = 12  # pairs grow quadratically; a sentence listing 40 names relates none strongly

_CJK_RUN = re.compile(rf"[{CJK_RANGES}][{CJK_RANGES}0-9A-Za-z·\s]*")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[^a-z])|[。！？；\n]+")
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f0-9](?:[\w'’.\-&]*[A-Za-z\u00c0-\u024f0-9])?")
_SECTION_NUMBER = re.compile(r"^[\d.]+\s+")
_PARENTHESISED = re.compile(r"\s*[(（][^)）]*[)）]")
_POSSESSIVE = re.compile(r"['’]s?$")
_NOT_KEY = re.compile(rf"[^\w{CJK_RANGES}]+")
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{CJK_RANGES}]) | (?=[{CJK_RANGES}])")
# Lower-case words that continue a name ("Bank of England"); "and" does not: it joins two names.
_CONNECTORS = frozenset("of the de da di du del der van von la le y & for on".split())
_CHINESE_TYPES = {"nr": "person", "nrfg": "person", "nrt": "person", "ns": "place", "nt": "organization",
                  "nz": "name"}
_POS_TAGS = jieba.posseg.dt.word_tag_tab  # jieba's dictionary: word -> part-of-speech tag
_CJK_WORD = re.compile(rf"[{CJK_RANGES}]+$")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛"
    "邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝"
    "路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全"
    "佟应臧闵苟邝边尉")
_ORGANISATION_ENDINGS = ("局", "委", "厅", "院", "馆", "镇", "村", "县", "市", "省", "岛", "港", "中心", "集团", "公司",
                         "大学", "学院", "协会", "银行", "医院")
_FUNCTION_CHARACTERS = frozenset("在和与的是说等了将也都对向从被把为及")
_CHINESE_NOUNS = frozenset({"n", "nz", "ng", "vn", "nr", "nrfg", "nrt", "ns", "nt"})
_PLACEHOLDER = re.compile(r"^.某+$")  # 李某, 王某某: an anonymised person, not one who recurs
# Nationality and language adjectives: "a Norwegian ski jumper" names no entity to walk to (as part of
# a longer name, "American Basketball League", they stay).
_DEMONYMS = frozenset(
    "american british english french german italian spanish portuguese dutch belgian swiss austrian swedish "
    "norwegian danish finnish icelandic irish scottish welsh polish czech russian ukrainian greek turkish "
    "canadian mexican brazilian argentine australian indian pakistani chinese japanese korean thai "
    "vietnamese indonesian filipino egyptian israeli iranian ugandan kenyan nigerian african european "
    "asian hindi telugu tamil latin arabic jewish christian muslim".split())
# Titles before a full name: "King Harold Godwinson" is the person "Harold Godwinson".
_TITLES = frozenset("king queen emperor empress pope sir dame president general".split())
_GENERIC_WORDS = ENGLISH_STOPWORDS | {
    "however", "also", "although", "after", "before", "during", "since", "while", "because", "yes", "no",
    "mr", "mrs", "ms", "dr", "st", "one", "two", "three", "first", "second", "many", "some", "most", "other",
    "these", "those", "this", "that", "then", "thus", "today", "here", "several", "such", "each", "every",
    # Dates are not entities: every month would join unrelated documents into one community.
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}


def entity_key(name: str, qualifiers: bool = False) -> str:
    """The identity of an entity name: NFKC width, case folded, possessive, parenthesised
    qualifier and punctuation dropped, spaces kept only between Latin words. ``qualifiers`` keeps
    what is in parentheses (to normalise running text, where a name may stand in them).

    >>> entity_key("Lilu (mythology)"), entity_key("ＮＡＳＡ’s"), entity_key("北京 大学")
    ('lilu', 'nasa', '北京大学')
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    if not qualifiers:
        text = _PARENTHESISED.sub(" ", text)
    text = " ".join(_POSSESSIVE.sub("", word) for word in text.split())
    text = _NOT_KEY.sub(" ", text).strip()
    return _SPACE_NEAR_CJK.sub("", " ".join(text.split()))


def sentences(text: str) -> list[str]:
    return [piece for piece in _SENTENCE_END.split(text) if piece and piece.strip()]


class NLPExtractor:
    """Entities and co-occurrence relations from text, in Chinese and English, with no model."""

    name = "nlp/5"  # bump when the rules change: stored graphs from older rules are then read again

    def extract(self, chunks: Sequence[Chunk]) -> list[ChunkGraph]:
        """One :class:`ChunkGraph` per chunk. Pass a document's chunks together: a short form is
        aliased to a full name written anywhere in the document."""
        per_chunk = [[self._sentence_names(s, _lower_case_words(chunk.text)) for s in sentences(chunk.text)]
                     for chunk in chunks]
        titles = [chunk_title(chunk) for chunk in chunks]
        aliases = _aliases([name for chunk in per_chunk for sentence in chunk for name in sentence]
                           + [title for title in titles if title])
        graphs = []
        for chunk, title, chunk_sentences in zip(chunks, titles, per_chunk):
            resolved = [[aliases.get(n, n) for n in names] for names in chunk_sentences]
            graphs.append(_chunk_graph(chunk.id, title, resolved))
        return graphs

    def entities(self, text: str, proper_only: bool = False) -> list[tuple[str, str]]:
        """(key, name) of the entities in ``text`` (a question, say), in order, without repeats;
        ``proper_only``: names alone, not Chinese noun compounds."""
        found: dict[str, str] = {}
        lowered = _lower_case_words(text)
        for sentence in sentences(text):
            for name in self._sentence_names(sentence, lowered):
                if not (proper_only and name.type == "concept"):
                    found.setdefault(name.key, name.text)
        return list(found.items())

    def _sentence_names(self, sentence: str, lowered: set[str]) -> list[_Name]:
        """Names in one sentence; ``lowered``: words the surrounding text writes in lower case."""
        names: list[_Name] = []
        position = 0
        for match in _CJK_RUN.finditer(sentence):
            names.extend(_english_names(sentence[position:match.start()], position == 0, lowered))
            names.extend(_chinese_names(match.group()))
            position = match.end()
        names.extend(_english_names(sentence[position:], position == 0, lowered))
        return [n for n in names if n.key]


class _Name:
    __slots__ = ("key", "text", "type")

    def __init__(self, text: str, type_: str, key: str | None = None):
        self.text = text.strip()
        self.type = type_
        self.key = entity_key(self.text) if key is None else key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Name) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


def _lower_case_words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text) if word[0].islower()}


def _english_names(text: str, at_start: bool, lowered: set[str]) -> list[_Name]:
    """Runs of capitalised words (joined by connectors such as "of"), minus generic words."""
    words = list(_WORD.finditer(text))
    names: list[_Name] = []
    run: list[re.Match[str]] = []

    def close() -> None:
        while run and (run[-1].group().lower() in _CONNECTORS):
            run.pop()
        while run and run[0].group().lower() in _GENERIC_WORDS and not _is_acronym(run[0].group()):
            run.pop(0)
        if len(run) > 2 and run[0].group().lower() in _TITLES:
            run.pop(0)
        if run:
            phrase = text[run[0].start():run[-1].end()]
            first = run[0]
            sentence_start = at_start and first.start() == words[0].start() if words else False
            single = len(run) == 1
            # A lone sentence-initial word is a name only if the text never writes it in lower case
            # and it does not open the sentence as an adverb ("Later, ...", "Originally ...").
            opener = (text[first.end():first.end() + 1] == "," or first.group().lower() in lowered
                      or first.group().lower().endswith("ly"))  # "Originally", "Finally"
            if not (single and sentence_start and opener) and not (single and first.group().lower() in _DEMONYMS):
                if not (single and (first.group().isdigit() or len(first.group()) < 2)):
                    names.append(_Name(phrase, "name"))
        run.clear()

    previous_end = 0
    for word in words:
        token = word.group()
        gap = text[previous_end:word.start()]
        joined = not run or gap.strip() == ""
        capital = token[0].isupper() or (token[0].isdigit() and any(c.isupper() for c in token))
        if run and joined and (capital or token.lower() in _CONNECTORS):
            run.append(word)
        else:
            close()
            if capital:
                run.append(word)
        previous_end = word.end()
    close()
    return names


def _is_acronym(word: str) -> bool:
    return len(word) > 1 and word.isupper()  # "WHO", "IT": not the generic "who", "it"


def _chinese_tag(word: str) -> str:
    """jieba's part-of-speech tag for a word its dictionary knows. A word only its HMM found (a new
    name, mostly) is a person when it is two or three characters starting with a common surname,
    an organisation or place when it ends like one, else untagged. This is four times faster than
    jieba.posseg's own HMM tagging (which decides ingest speed) and finds 90% of the same names."""
    tag = _POS_TAGS.get(word)
    if tag is not None:
        return tag
    if not _CJK_WORD.match(word) or len(word) < 2:
        return "eng" if word.isascii() and word[:1].isalpha() else "x"
    if len(word) <= 3 and word[0] in _SURNAMES:
        return "nr"
    if len(word) >= 3 and word.endswith(_ORGANISATION_ENDINGS):
        return "nt"
    return "x"


def _chinese_names(text: str) -> list[_Name]:
    """Proper nouns by jieba's tags, and compounds of nouns (three characters or more)."""
    names: list[_Name] = []
    compound: list[str] = []

    def close() -> None:
        if len(compound) > 1 or (compound and len(compound[0]) >= 3):
            joined = "".join(compound)
            if len(joined) >= 3:
                names.append(_Name(joined, "concept"))
        compound.clear()

    for word in jieba.lcut(text):
        word = word.strip()
        if not word:
            continue
        flag = _chinese_tag(word)
        if flag == "nr" and word not in _POS_TAGS and len(word) == 3 and word[-1] in _FUNCTION_CHARACTERS:
            word = word[:2]  # the HMM glued a particle to a new name: "张三在" is 张三 + 在
        if flag in _CHINESE_TYPES and len(word) >= 2 and not _PLACEHOLDER.match(word):
            names.append(_Name(word, _CHINESE_TYPES[flag]))
        elif flag == "eng" and word[0].isupper() and len(word) >= 2:
            names.append(_Name(word, "name"))
        if flag in _CHINESE_NOUNS and flag not in ("nr", "nrfg", "nrt", "ns", "nt"):
            compound.append(word)
        else:
            close()
    close()
    return names


def chunk_title(chunk: Chunk) -> _Name | None:
    """The chunk's document title (its first heading, section number dropped), if it has one."""
    if not chunk.heading_path:
        return None
    title = _Name(_SECTION_NUMBER.sub("", chunk.heading_path[0]), "title")
    return title if title.key else None


def _aliases(names: list[_Name]) -> dict[_Name, _Name]:
    """Short forms → full names: a one-word name that is the first or last word of exactly one
    longer name ("Obama" → "Barack Obama"), and an acronym of a longer name ("WHO")."""
    full = {n for n in names if " " in n.key}
    by_word: dict[str, set[_Name]] = defaultdict(set)
    by_initials: dict[str, set[_Name]] = defaultdict(set)
    for name in full:
        words = name.key.split()
        by_word[words[0]].add(name)
        by_word[words[-1]].add(name)
        initials = "".join(w[0] for w in words if w not in _CONNECTORS)
        if len(initials) >= 2:
            by_initials[initials].add(name)
    aliases: dict[_Name, _Name] = {}
    for name in names:
        if " " in name.key or name in aliases:
            continue
        candidates = by_word.get(name.key) or (by_initials.get(name.key) if name.text.isupper() else None)
        if candidates and len(candidates) == 1:
            aliases[name] = next(iter(candidates))
    return aliases


def _chunk_graph(chunk_id: str, title: _Name | None, sentence_names: list[list[_Name]]) -> ChunkGraph:
    counts: defaultdict[str, float] = defaultdict(float)
    shown: dict[str, _Name] = {}
    for names in sentence_names:
        for name in names:
            counts[name.key] += 1
            shown.setdefault(name.key, name)
    if title is not None:
        counts[title.key] += TITLE_WEIGHT
        shown[title.key] = title
    mentions = tuple(EntityMention(key, shown[key].text, shown[key].type, float(count))
                     for key, count in counts.items())
    pairs: Counter[tuple[str, str]] = Counter()
    for names in sentence_names:
        keys = sorted({n.key for n in names})[:MAX_PER_SENTENCE]
        pairs.update(combinations(keys, 2))
    if title is not None:  # what the chunk names, it names about its title
        pairs.update((min(title.key, key), max(title.key, key)) for key in counts if key != title.key)
    relations = tuple(EntityRelation(a, b, float(n)) for (a, b), n in pairs.items())
    return ChunkGraph(chunk_id, mentions, relations)
