"""The entity graph in memory: entities, the chunks that name them and the relations between them,
loaded from the store and walked by personalised PageRank.

The graph has two kinds of node, entities and chunks (the HippoRAG idea, with passages as nodes
as in HippoRAG 2). A chunk links to the entities it names (weighted by how much it is about
them); an entity links to related entities. A walk restarts at the question's entities (weighted
by how rare they are) and at the passages a first retrieval found, so the chunks it reaches often
are those one hop away: the second paragraph of a two-hop question.

Like the BM25 index, it reflects a store revision, is saved beside the store (so a new process
does not read every mention again), and reloads when the store moved on.

Example::

    graph = EntityGraph(store, data_dir / "graph")
    graph.match("Who founded the employer of Ada Lovelace?")  # [(entity index, "ada lovelace")]
    scores = graph.walk({graph.index["ada lovelace"]: 1.0}, {})
"""

from __future__ import annotations

import json
import os
import re
import threading
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import jieba
import numpy as np
from scipy import sparse

from ponder.graph.extract import NLPExtractor, entity_key
from ponder.index.store import Store
from ponder.index.tokenize import ENGLISH_STOPWORDS

if TYPE_CHECKING:
    from ponder.index.embedders import Embedder

DAMPING = 0.5  # as HippoRAG: half the mass returns to the seeds each step, so the walk stays near them
ITERATIONS = 16  # at most; 0.5 ** 16: the scores no longer move
CONVERGED = 1e-3  # total mass moved by a step, below which the walk stops early (rankings have settled)
TO_CHUNKS = 0.7  # share of an entity's mass that goes to the chunks naming it (the rest to related entities)
PRUNE = 1e-5  # per neighbour: a node holding less does not pass its mass on
MAX_NGRAM = 6
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f0-9]+")


Similarity = Callable[[str, list[str]], list[float]]  # (question, chunk ids) -> how close each is to it


@dataclass(frozen=True)
class Entity:
    key: str
    name: str
    type: str
    chunks: int  # how many chunks name it
    weight: float  # summed mention weight
    description: str = ""


class EntityGraph:
    """Entities and chunks of one store, as sparse matrices."""

    def __init__(self, store: Store, directory: Path | None = None, synonym_weight: float = 0.0,
                 name_embedder: Callable[[], Embedder] | None = None):
        self._store = store
        self._directory = directory  # where the graph in memory is saved; None: never saved
        self._synonym_weight = synonym_weight  # edges between an entity's names (0: none)
        # the embedder for match_by_meaning's name vectors, made when first needed; None: not offered
        self._name_embedder = name_embedder
        self.named = np.zeros(0, dtype=np.int64)  # the entities with a name vector (match_by_meaning)
        self._name_vectors = np.zeros((0, 0), dtype=np.float32)
        self._lock = threading.Lock()
        self.revision = -1
        self.extractor = NLPExtractor()
        self.entities: list[Entity] = []
        self.index: dict[str, int] = {}
        self.chunk_ids: list[str] = []
        self.chunk_position: dict[str, int] = {}
        self.mentions = sparse.csr_matrix((0, 0))  # chunks x entities, mention weights
        self.related = sparse.csr_matrix((0, 0))  # entities x entities, relation weights (symmetric)
        self._chunk_to_entity = _Both.of(sparse.csr_matrix((0, 0)))
        self._entity_to_chunk = _Both.of(sparse.csr_matrix((0, 0)))
        self._entity_to_entity = _Both.of(sparse.csr_matrix((0, 0)))
        self._to_chunks = np.zeros(0)
        self._prune_e = np.zeros(0)
        self._prune_c = np.zeros(0)
        self._specificity = np.zeros(0)  # per entity: log(1 + chunks / chunks naming it)
        self._by_entity = sparse.csc_matrix((0, 0))
        self.centrality = np.zeros(0)
        self._matches: dict[str, list[tuple[int, str]]] = {}  # question -> entities named, this revision

    def refresh(self) -> None:
        """Reload if the store changed since the last load: from the copy saved beside the store when
        it reflects the store's revision (a restart costs nothing), else from the store (saved then)."""
        with self._lock:
            revision = self._store.graph_revision
            if revision != self.revision:
                saved = self._read_saved(revision)
                if saved is None:
                    saved = self._read_store()
                    self._save(revision, *saved)
                self._adopt(*saved)
                if self._name_embedder is not None:
                    self._embed_linkable()
                self._matches = {}
                self.revision = revision

    def _read_store(self) -> tuple[list[str], list[list[str]], sparse.csr_matrix, sparse.csr_matrix]:
        """(chunk ids, entities as [key, name, type, description], mentions, relations) from the store."""
        rows = self._store.graph_rows()
        chunk_ids = {chunk_id: position for position, chunk_id in enumerate(rows.chunk_ids)}
        keys: dict[str, int] = {}
        # weights are summed per name and type; an entity is shown by its heaviest name
        names: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        types: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for key, name, type_, weight in rows.names:
            keys.setdefault(key, len(keys))
            names[key][name] += weight
            types[key][type_] += weight
        descriptions: dict[str, list[str]] = defaultdict(list)
        for key, description in rows.descriptions:
            descriptions[key].append(description)
        mentions = sparse.csr_matrix(
            ([weight for _, _, weight in rows.mentions],
             ([chunk_ids[chunk_id] for chunk_id, _, _ in rows.mentions], [keys[key] for _, key, _ in rows.mentions])),
            shape=(len(chunk_ids), len(keys)), dtype=np.float64)
        mentions.sum_duplicates()
        pairs = [(keys[a], keys[b], w) for a, b, w in rows.relations if a in keys and b in keys and a != b]
        sources = [a for a, _, _ in pairs] + [b for _, b, _ in pairs]
        targets = [b for _, b, _ in pairs] + [a for a, _, _ in pairs]
        related = sparse.csr_matrix(([w for _, _, w in pairs] * 2, (sources, targets)),
                                    shape=(len(keys), len(keys)), dtype=np.float64)
        related.sum_duplicates()
        entities = [[key, max(names[key], key=names[key].__getitem__), _main_type(types[key]),
                     " / ".join(descriptions[key])] for key in keys]
        return rows.chunk_ids, entities, mentions, related

    def _save(self, revision: int, chunk_ids: list[str], entities: list[list[str]], mentions: sparse.csr_matrix,
              related: sparse.csr_matrix) -> None:
        """Both files carry the revision: a crash between writing them leaves a pair that does not
        match, which is read from the store again."""
        if self._directory is None:
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        arrays = {f"{name}_{part}": getattr(matrix, part) for name, matrix in (("mentions", mentions),
                                                                                ("related", related))
                  for part in ("data", "indices", "indptr")}
        with open(self._directory / "graph.npz.tmp", "wb") as handle:
            np.savez(handle, revision=revision, mentions_shape=mentions.shape, related_shape=related.shape, **arrays)
        (self._directory / "graph.json.tmp").write_text(
            json.dumps({"revision": revision, "chunk_ids": chunk_ids, "entities": entities}, ensure_ascii=False))
        os.replace(self._directory / "graph.npz.tmp", self._directory / "graph.npz")
        os.replace(self._directory / "graph.json.tmp", self._directory / "graph.json")

    def _read_saved(self, revision: int) -> tuple[list[str], list[list[str]], sparse.csr_matrix,
                                                  sparse.csr_matrix] | None:
        if self._directory is None:
            return None
        try:
            meta = json.loads((self._directory / "graph.json").read_text(encoding="utf-8"))
            with np.load(self._directory / "graph.npz") as arrays:
                if meta["revision"] != revision or int(arrays["revision"]) != revision:
                    return None
                matrices = [sparse.csr_matrix((arrays[f"{name}_data"], arrays[f"{name}_indices"],
                                               arrays[f"{name}_indptr"]), shape=tuple(arrays[f"{name}_shape"]))
                            for name in ("mentions", "related")]
            return meta["chunk_ids"], meta["entities"], matrices[0], matrices[1]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none saved yet, or unreadable: read the store

    def _adopt(self, chunk_id_list: list[str], entity_rows: list[list[str]], mentions: sparse.csr_matrix,
               related: sparse.csr_matrix) -> None:
        chunk_ids = {chunk_id: position for position, chunk_id in enumerate(chunk_id_list)}
        keys = {row[0]: position for position, row in enumerate(entity_rows)}
        by_entity = mentions.tocsc()
        chunk_counts = np.diff(by_entity.indptr)
        totals = np.asarray(mentions.sum(axis=0)).ravel()
        self.entities = [Entity(key, name, type_, int(chunk_counts[i]), float(totals[i]), description)
                         for i, (key, name, type_, description) in enumerate(entity_rows)]
        self.index = keys
        self.chunk_ids = chunk_id_list
        self.chunk_position = chunk_ids
        if self._synonym_weight > 0:
            related = (related + self._synonym_weight * name_synonyms([row[0] for row in entity_rows])).tocsr()
        self.mentions = mentions
        self.related = related
        self._by_entity = by_entity  # an entity's chunks: one slice
        self.centrality = np.asarray(related.sum(axis=1)).ravel() + totals  # relation weight + mention weight
        # Transition matrices, stored transposed so that one step is a product with the mass vector.
        # A chunk passes its mass to its entities by weight x rarity: through "C. P. E. Bach", not "Germany".
        self._specificity = np.log1p(len(chunk_ids) / np.maximum(chunk_counts, 1))
        by_rarity = mentions @ sparse.diags(self._specificity)
        self._chunk_to_entity = _Both.of(_row_normalised(by_rarity).T)  # entities x chunks
        self._entity_to_chunk = _Both.of(_row_normalised(mentions.T.tocsr()).T)  # chunks x entities
        self._entity_to_entity = _Both.of(_row_normalised(related).T)
        has_relations = np.diff(related.indptr) > 0
        self._to_chunks = np.where(has_relations, TO_CHUNKS, 1.0).astype(np.float32)
        self._prune_e = (PRUNE * (chunk_counts + np.diff(related.indptr))).astype(np.float32)
        self._prune_c = (PRUNE * np.diff(mentions.indptr)).astype(np.float32)

    # -- questions ------------------------------------------------------------------------------
    def match(self, text: str) -> list[tuple[int, str]]:
        """Entities named in ``text``: the longest runs of up to six words that are an entity's key
        (so a lower-case question still finds "ada lovelace", and "Death of Samantha" is not also
        "Samantha"), plus what the extractor finds outside them."""
        self.refresh()
        # One question is matched by the walk, the bridge slot and the planner: remember the latest.
        if text not in self._matches:
            if len(self._matches) >= 256:
                self._matches.clear()
            self._matches[text] = self._match(text)
        return self._matches[text]

    def _match(self, text: str) -> list[tuple[int, str]]:
        capitalised = {w.casefold() for w in _LATIN_WORD.findall(text) if w[0].isupper()}
        words = [w for w in jieba.lcut(entity_key(text)) if w.strip()]
        taken = [False] * len(words)
        found: dict[int, str] = {}
        for size in range(min(MAX_NGRAM, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                run = words[start:start + size]
                key = _join(run)
                # Lower-case Latin words name an entity only as a phrase: "born" or "city" alone do not.
                named = not run[0].isascii() or size > 1 and key not in ENGLISH_STOPWORDS or run[0] in capitalised
                if key in self.index and named and not any(taken[start:start + size]):
                    found.setdefault(self.index[key], key)
                    taken[start:start + size] = [True] * size
        for key, _ in self.extractor.entities(text):
            if key in self.index and not any(f" {key} " in f" {longer} " for longer in found.values()):
                found.setdefault(self.index[key], key)
        return sorted(found.items())

    def match_by_meaning(self, query_vector: np.ndarray, limit: int, threshold: float) -> list[tuple[int, float]]:
        """Up to ``limit`` entities whose name's vector is at least ``threshold`` close to the
        question's (with ``name_embedder``): a question that words a name differently ("the BYD
        company", "比亚迪公司") still reaches it. [(entity, closeness)], closest first."""
        self.refresh()
        if not len(self.named):
            return []
        closeness = self._name_vectors @ query_vector
        best = np.argsort(-closeness, kind="stable")[:limit]
        return [(int(self.named[i]), float(closeness[i])) for i in best if closeness[i] >= threshold]

    def _embed_linkable(self) -> None:
        """Vectors for the names worth matching a question to by meaning: proper names (not noun
        compounds) that two or more chunks mention, the ones a walk can go on from. Names embedded
        before by the same embedder are read from ``names.npz`` beside the graph; only new ones are
        embedded. A cache another embedder wrote, or one that cannot be read, counts as empty."""
        assert self._name_embedder is not None
        embedder = self._name_embedder()
        linkable = [i for i, entity in enumerate(self.entities) if links_onward(entity.type, entity.chunks)]
        cache = self._directory / "names.npz" if self._directory is not None else None
        known: dict[str, np.ndarray] = {}
        if cache is not None and cache.is_file():
            try:
                with np.load(cache) as arrays:
                    if str(arrays["embedder"]) == embedder.name:
                        known = dict(zip(arrays["keys"].tolist(), arrays["vectors"]))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                known = {}
        missing = [i for i in linkable if self.entities[i].key not in known]
        if missing:
            vectors = embedder.embed_passages([self.entities[i].name for i in missing])
            known.update(zip((self.entities[i].key for i in missing), vectors))
        self.named = np.asarray(linkable, dtype=np.int64)
        self._name_vectors = (np.stack([known[self.entities[i].key] for i in linkable]).astype(np.float32)
                              if linkable else np.zeros((0, 0), dtype=np.float32))
        if cache is not None and missing:
            with open(cache.with_suffix(".tmp"), "wb") as handle:
                np.savez(handle, keys=np.asarray([self.entities[i].key for i in linkable]), vectors=self._name_vectors,
                         embedder=embedder.name)
            os.replace(cache.with_suffix(".tmp"), cache)

    def specificity(self, entity: int) -> float:
        """How much naming this entity narrows the search: rare entities weigh more (IDF)."""
        return float(self._specificity[entity])

    def walk(self, entity_seeds: dict[int, float], chunk_seeds: dict[int, float]) -> np.ndarray:
        """Personalised PageRank from the seeds (weights need not sum to one); the chunks' scores.

        A node passes its mass on only when it holds at least ``PRUNE`` (of the total) per
        neighbour (the approximate PageRank of Andersen, Chung and Lang): the walk then touches
        the seeds' neighbourhood, not the whole graph, and a hub entity named in thousands of
        chunks spreads nothing it holds too little of to matter."""
        self.refresh()
        restart_e = np.zeros(len(self.entities), dtype=np.float32)
        restart_c = np.zeros(len(self.chunk_ids), dtype=np.float32)
        for position, weight in entity_seeds.items():
            restart_e[position] += weight
        for position, weight in chunk_seeds.items():
            restart_c[position] += weight
        total = restart_e.sum() + restart_c.sum()
        if total <= 0:
            return restart_c
        restart_e /= total
        restart_c /= total
        mass_e: np.ndarray = restart_e.copy()
        mass_c: np.ndarray = restart_c.copy()
        for _ in range(ITERATIONS):
            # A node passes its mass on only when it has PRUNE per neighbour to give.
            spread_e = np.where(mass_e >= self._prune_e, mass_e, 0.0)
            spread_c = np.where(mass_c >= self._prune_c, mass_c, 0.0)
            to_chunks = spread_e * self._to_chunks
            next_e = (_product(self._chunk_to_entity, spread_c)
                      + _product(self._entity_to_entity, spread_e - to_chunks))
            next_c = _product(self._entity_to_chunk, to_chunks)
            next_e = (1 - DAMPING) * restart_e + DAMPING * next_e
            next_c = (1 - DAMPING) * restart_c + DAMPING * next_c
            change = np.abs(next_c - mass_c).sum() + np.abs(next_e - mass_e).sum()
            mass_e, mass_c = next_e, next_c
            if change < CONVERGED:
                break
        return np.where(mass_c >= self._prune_c, mass_c, 0.0)  # what reached a chunk too thinly is no lead

    def leads(self, question: str, chunk_ids: list[str], limit: int = 5, elsewhere: bool = False,
              concepts: bool = True) -> list[str]:
        """Names the chunks mention most (rarer ones first) that the question does not: where a
        multi-hop search might go next. ``elsewhere``: only names some other chunk also mentions
        (a name found nowhere else leads nowhere); ``concepts``: Chinese noun compounds count too."""
        self.refresh()
        asked = {position for position, _ in self.match(question)}
        weight: dict[int, float] = {}
        held: dict[int, int] = {}  # entity -> how many of chunk_ids name it
        for chunk_id in chunk_ids:
            row = self.chunk_position.get(chunk_id)
            if row is None:
                continue
            start, end = self.mentions.indptr[row], self.mentions.indptr[row + 1]
            for entity, mentions in zip(self.mentions.indices[start:end], self.mentions.data[start:end]):
                if entity not in asked:
                    weight[int(entity)] = weight.get(int(entity), 0.0) + mentions * self.specificity(int(entity))
                    held[int(entity)] = held.get(int(entity), 0) + 1
        if elsewhere:
            weight = {entity: w for entity, w in weight.items() if self.entities[entity].chunks > held[entity]}
        if not concepts:
            weight = {entity: w for entity, w in weight.items() if self.entities[entity].type != "concept"}
        best = sorted(weight, key=lambda entity: (-weight[entity], self.entities[entity].key))[:limit]
        return [self.entities[entity].name for entity in best]

    def neighbours(self, entity: int, limit: int = 20) -> list[tuple[int, float]]:
        """Related entities, strongest relation first."""
        row = self.related.getrow(entity)
        order = np.lexsort((row.indices, -row.data))[:limit]
        return [(int(row.indices[i]), float(row.data[i])) for i in order]

    def chunk_positions(self, entity: int) -> np.ndarray:
        """Positions (in ``chunk_ids``) of the chunks naming the entity, most about it first."""
        start, end = self._by_entity.indptr[entity], self._by_entity.indptr[entity + 1]
        rows, weights = self._by_entity.indices[start:end], self._by_entity.data[start:end]
        return rows[np.lexsort((rows, -weights))]

    def chunks_of(self, entity: int) -> list[str]:
        """Ids of the chunks naming the entity, most about it first."""
        return [self.chunk_ids[i] for i in self.chunk_positions(entity)]


def links_onward(type_: str, chunks: int) -> bool:
    """Whether an entity is one a walk can go on from, so worth matching a question to by meaning: a
    proper name (not a noun compound) that two or more chunks mention."""
    return type_ != "concept" and chunks >= 2


def name_synonyms(keys: list[str]) -> sparse.csr_matrix:
    """Edges (weight 1, both ways) between keys that name one thing: a Latin name of several words
    and its last word when that is an entity too ("ada lovelace", "lovelace"), and keys equal but for
    a leading "the" or a trailing possessive ("the beatles", "beatles'")."""
    index = {key: position for position, key in enumerate(keys)}
    pairs = set()
    for position, key in enumerate(keys):
        words = key.split(" ")
        if len(words) >= 2 and words[-1].isascii() and len(words[-1]) > 2:
            other = index.get(words[-1])
            if other is not None:
                pairs.add((position, other))
        plain = re.sub(r"^the |'s?$", "", key)
        if plain != key and plain in index:
            pairs.add((position, index[plain]))
    rows = [a for a, b in pairs] + [b for a, b in pairs]
    columns = [b for a, b in pairs] + [a for a, b in pairs]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(keys), len(keys)))


def _product(matrix: _Both, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector``; on a large graph whose walk has touched few nodes yet, reading only the
    columns of those nodes."""
    if len(vector) > 20_000:
        active = np.flatnonzero(vector)
        if len(active) * 20 < len(vector):
            return matrix.columns[:, active] @ vector[active]
    return matrix.rows @ vector


@dataclass(frozen=True)
class _Both:
    """A transition matrix twice: by rows (fast whole products) and by columns (products over a few
    columns)."""

    rows: sparse.csr_matrix
    columns: sparse.csc_matrix

    @staticmethod
    def of(matrix: sparse.spmatrix) -> _Both:
        matrix = matrix.astype(np.float32)  # half the memory traffic of a step; rankings do not notice
        return _Both(matrix.tocsr(), matrix.tocsc())


def _join(words: list[str]) -> str:
    """Words back into a key: a space only between two Latin words (as :func:`entity_key` writes)."""
    text = words[0]
    for word in words[1:]:
        text += (" " if text[-1].isascii() and text[-1].isalnum() and word[0].isascii() else "") + word
    return text


def _main_type(types: dict[str, float]) -> str:
    named = [(count, type_) for type_, count in types.items() if type_ != "title"]
    return max(named)[1] if named else "title"


def _row_normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sparse.diags(scale) @ matrix
