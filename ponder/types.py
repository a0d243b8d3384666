"""The small typed objects that pipeline stages pass to each other.

Data flows one way: ``ingest`` turns files into :class:`Document` and :class:`Chunk`; ``index``
stores chunks; ``retrieve`` returns :class:`Hit`; ``reason`` returns an :class:`Answer` with its
:class:`Trace`. Stages share nothing else.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal


def content_id(*parts: str, length: int = 16) -> str:
    """A stable id derived from content, so that re-ingesting the same thing yields the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


ROW_LOCATED = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".csv", ".tsv"})  # "page" is the row
SLIDE_LOCATED = frozenset({".pptx", ".odp"})  # "page" is the slide


def pages_named(count: int, path: str) -> str:
    """A document's page count as its format counts: "12 pages", "8 slides", "3 sheets"."""
    suffix = PurePath(path).suffix.lower()
    unit = "slide" if suffix in SLIDE_LOCATED else "sheet" if suffix in ROW_LOCATED else "page"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def location(path: str, page: int | None, heading_path: tuple[str, ...], page_end: int | None = None,
             figure: Figure | None = None) -> str:
    """Human-readable provenance: ``file.pdf p.3-4 › 2 Method › 2.3 Training`` (``› Figure 2`` after
    it for a figure's passage); for a spreadsheet, ``budget.xlsx › Q3 › rows 41-80``; for slides,
    ``review.pptx slide 4 Q3 results``."""
    if PurePath(path).suffix.lower() in ROW_LOCATED:
        rows = [] if page is None else [f"row {page}" if page_end in (None, page) else f"rows {page}-{page_end}"]
        return " › ".join([path, *heading_path, *rows])
    parts = [path]
    slides = PurePath(path).suffix.lower() in SLIDE_LOCATED
    if page is not None:
        one, many = ("slide ", "slides ") if slides else ("p.", "p.")
        parts.append(f"{one}{page}" if page_end in (None, page) else f"{many}{page}-{page_end}")
    if heading_path:
        parts.append(" › ".join(heading_path))
    where = " ".join(parts)
    return f"{where} › Figure {figure.number}" if figure is not None else where


@dataclass(frozen=True)
class Figure:
    """A picture in a document: an embedded image, a vector drawing, an ``<img>``.

    ``offset`` is where it stands in the document's text (between the text before and after it);
    ``page`` and ``bbox`` (PDF points: x0, y0, x1, y1) where it is on the page. ``image`` is the
    SHA-256 of its stored PNG crop (empty when the picture could not be read, a remote ``<img>``
    say); the same picture anywhere has the same hash. ``caption`` is its caption, ``alt`` the
    author's alternative text, ``text_in_image`` the words inside it (the PDF's text layer over it,
    or OCR), ``description`` what a vision model wrote about it (with ``described_by``, the model).
    """

    number: int  # 1-based, in reading order
    offset: int
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    image: str = ""
    width: int = 0  # of the stored PNG, in pixels
    height: int = 0
    caption: str = ""
    alt: str = ""
    referred: tuple[str, ...] = ()  # sentences elsewhere that point to it ("Figure 3 shows…", "如图3所示")
    text_in_image: str = ""
    description: str = ""
    described_by: str = ""

    def label(self) -> str:
        """How a person names it: ``Figure 3 (p.2)``."""
        return f"Figure {self.number}" + (f" (p.{self.page})" if self.page is not None else "")


def figure_to_json(figure: Figure | None) -> str | None:
    """How a store keeps a chunk's figure (None for a text chunk)."""
    if figure is None:
        return None
    return json.dumps(dataclasses.asdict(figure), ensure_ascii=False)


def figure_from_json(text: str | None) -> Figure | None:
    if not text:
        return None
    fields = json.loads(text)
    return Figure(**{**fields, "bbox": tuple(fields["bbox"]) if fields.get("bbox") else None,
                     "referred": tuple(fields.get("referred") or ())})


@dataclass(frozen=True)
class Document:
    """One source file, converted to text.

    ``id`` comes from the file's resolved path (the identity of a source), ``content_hash`` from its
    bytes (whether it changed). ``text`` is Markdown for structured formats (PDF, DOCX, HTML,
    Markdown: headings as ``#``, tables as pipe tables) and the plain text for ``.txt``.
    ``page_starts[i]`` is the offset in ``text`` where page ``i + 1`` begins (empty when the format
    has no pages). ``modified`` is what date filters compare. ``hidden_removed`` counts what the
    reader dropped as invisible to a human reader (hidden HTML elements, invisible PDF text, zero-width
    and bidi control characters): text a reader does not see must not steer the model.
    """

    id: str
    path: str
    content_hash: str
    text: str
    file_type: str = "text"
    page_starts: tuple[int, ...] = ()
    page_count: int | None = None
    # The number of each of page_starts when it is not its position: a spreadsheet's rows (row 1 of each sheet).
    page_numbers: tuple[int, ...] = ()
    modified: float | None = None  # the file's modification time (Unix), the document's date
    hidden_removed: int = 0
    figures: tuple[Figure, ...] = ()
    figures_skipped: int = 0  # pictures left out as decorative (tiny), repeated (logos) or unreadable
    # The figures' PNG crops by hash; held only while ingesting (the store keeps them as files).
    images: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    # Files inside it that become documents of their own (an e-mail's attachments), held only while ingesting.
    attachments: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)

    @property
    def is_markdown(self) -> bool:
        return self.file_type != "text"

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset`` (for a spreadsheet, the row); None for formats without pages."""
        if not self.page_starts:
            return None
        index = max(bisect.bisect_right(self.page_starts, offset), 1)
        return self.page_numbers[index - 1] if self.page_numbers else index


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document, with its provenance.

    ``start``/``end`` are character offsets into the document's text, and ``text`` is
    ``document.text[start:end]`` — except that a piece of a table or code block that had to be split
    repeats the table's header row (or the code fence) in front, so it reads on its own.
    ``page``/``page_end`` are the first and last page the chunk lies on. The id hashes the document
    id, the offsets and the text: the same input always gives the same id.

    A chunk with a ``figure`` is that figure's passage: its text describes the picture (caption,
    the sentences referring to it, the words inside it, a vision model's description), and
    ``start == end`` is where the figure stands in the document.
    """

    id: str
    document_id: str
    path: str
    text: str
    start: int
    end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    page_end: int | None = None
    figure: Figure | None = None

    @property
    def kind(self) -> str:
        """``figure`` or ``text``: what ``--type`` filters on."""
        return "figure" if self.figure is not None else "text"

    @staticmethod
    def make_id(document_id: str, start: int, end: int, text: str) -> str:
        return content_id(document_id, str(start), str(end), text)

    def location(self) -> str:
        return location(self.path, self.page, self.heading_path, self.page_end, self.figure)


@dataclass(frozen=True)
class EntityMention:
    """An entity named in a chunk. ``key`` is the normalised name that identifies the entity across
    chunks (``"barack obama"`` for "Barack Obama's"); ``name`` is the form as written; ``weight``
    says how much the chunk is about it (mentions, more for a title); ``description`` is filled by
    the LLM extractor only."""

    key: str
    name: str
    type: str = "other"
    weight: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class EntityRelation:
    """Two entities a chunk connects: named in one sentence (``nlp`` extractor, ``weight`` counts
    the sentences) or stated as related (``llm`` extractor, with a ``description``)."""

    source: str
    target: str
    weight: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class ChunkGraph:
    """What an extractor found in one chunk; stored with the chunk id, so every entity and edge
    keeps the chunks it came from."""

    chunk_id: str
    mentions: tuple[EntityMention, ...] = ()
    relations: tuple[EntityRelation, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a retriever, with its score and rank.

    ``ranks`` holds the chunk's rank in each underlying retriever (``{"bm25": 3, "dense": 1}`` for a
    hybrid hit; absent where that retriever did not return it).
    """

    chunk: Chunk
    score: float
    retriever: str
    rank: int
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    """A passage an answer relies on.

    ``marker`` is the bracketed number as the prompt numbered the passages. ``source`` says how the
    citation was found: ``"model"`` when the model wrote ``[n]``, ``"overlap"`` when the model cited
    nothing and Ponder attributed the answer to the passage it overlaps most (marked, never hidden).
    """

    marker: int
    chunk_id: str
    path: str
    page: int | None
    heading_path: tuple[str, ...]
    source: str = "model"
    page_end: int | None = None
    figure: Figure | None = None  # when the cited passage is a figure: which, where, its image


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation (its reasoning already removed)."""

    role: Literal["user", "assistant"]
    text: str


@dataclass
class Usage:
    """Token counts of one or more model calls. ``estimated`` is true when any count was not
    reported by the provider and was estimated by Ponder instead."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.estimated = self.estimated or other.estimated


@dataclass
class TraceStep:
    """One step of answering: what went in, what came out, how long it took. ``stage`` is
    ``retrieve``, ``llm`` (one model call: role, purpose, tokens), or a group such as ``step 2``
    whose ``children`` are the steps inside it."""

    stage: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)
    children: list[TraceStep] = field(default_factory=list)


@dataclass
class Trace:
    """Everything that happened while answering one question, in order (a tree: groups nest)."""

    steps: list[TraceStep] = field(default_factory=list)

    def add(self, stage: str, seconds: float, **detail: Any) -> TraceStep:
        step = TraceStep(stage, seconds, detail)
        self.steps.append(step)
        return step

    def walk(self) -> list[TraceStep]:
        """Every step, groups and their children, depth first."""
        found: list[TraceStep] = []
        pending = list(reversed(self.steps))
        while pending:
            step = pending.pop()
            found.append(step)
            pending.extend(reversed(step.children))
        return found


@dataclass(frozen=True)
class Flag:
    """A span of an answer that no passage supports: a ``number`` (amount, date, percentage, with
    its unit) or a ``name``. ``start``/``end`` are offsets into ``Answer.text``."""

    text: str
    kind: Literal["number", "name"]
    start: int
    end: int
    why: str = ""


@dataclass(frozen=True)
class SentenceSupport:
    """How well one answer sentence is backed by its best passage: ``score`` in [0, 1] (the larger
    of word overlap and embedding similarity), ``passage`` the number of that passage."""

    text: str
    start: int
    end: int
    score: float
    passage: int | None
    supported: bool


@dataclass(frozen=True)
class Derivation:
    """A number of the answer that no passage writes but that follows from theirs: ``expression``
    (as its operands are written), the passages they came from (0: the question), and whether the
    answer or its thinking showed the working (``shown``) or the check found it."""

    text: str
    expression: str
    markers: tuple[int, ...]
    shown: bool


Verdict = Literal["supported", "partly supported", "unsupported", "not checked"]


@dataclass
class Grounding:
    """The answer checked against the passages it cites (``against="cited"``) or, citing none,
    all it was given (``"given"``). ``verdict``: ``supported`` (every sentence backed, nothing
    flagged), ``unsupported`` (no sentence both backed and unflagged), ``partly supported``, or
    ``not checked`` (a refusal, or no passages)."""

    verdict: Verdict
    flags: list[Flag] = field(default_factory=list)
    sentences: list[SentenceSupport] = field(default_factory=list)
    against: Literal["cited", "given", ""] = ""
    seconds: float = 0.0
    action: str = ""  # what reason.on_unsupported did: "", "retried", "refused"
    derivations: list[Derivation] = field(default_factory=list)  # numbers computed from the passages
    written_numbers: int = 0  # numbers of the answer that a passage or the question writes

    @property
    def unsupported_sentences(self) -> list[SentenceSupport]:
        return [s for s in self.sentences if not s.supported]


@dataclass(frozen=True)
class ConflictSide:
    """What one passage says: the value (``"Glendale, Arizona"``) inside its sentence."""

    marker: int  # the passage's number, as the answer cites it
    chunk_id: str
    value: str
    sentence: str


@dataclass(frozen=True)
class Conflict:
    """Passages that say the same thing with different values (a place, a date, a number, a name):
    one sentence each, alike but for the value."""

    sides: tuple[ConflictSide, ...]


@dataclass
class Answer:
    """What Ponder returns for a question.

    ``text`` never contains the model's thinking; that lives in ``thinking``. ``timings`` maps a stage
    name (``ingest``, ``retrieve``, ``answer``, ``think``, ``plan``, ``grade``...) to seconds, summed over the
    stage's calls. ``hits`` are the passages given to the model, numbered as the citations number
    them (``hits[n - 1]`` is passage ``[n]``). ``usage`` sums every model call.
    """

    question: str
    text: str
    thinking: str
    citations: list[Citation]
    hits: list[Hit]
    usage: Usage
    timings: dict[str, float]
    mode: str
    model: str
    language: str
    trace: Trace = field(default_factory=Trace)
    route: str = ""  # auto mode: why this mode was chosen
    fallbacks: list[str] = field(default_factory=list)  # where a step degraded (an unusable plan, grade...)
    invalid_citations: list[int] = field(default_factory=list)  # markers removed: no such passage given
    grounding: Grounding | None = None  # numbers, names and sentences the passages do not support
    conflicts: list[Conflict] = field(default_factory=list)  # passages that disagree; the text says so

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FileOutcome:
    """What ingesting one file did: ``ingested``, ``unchanged`` (same content as indexed),
    ``skipped`` (unsupported type or empty; a warning, not an error) or ``failed`` (an error)."""

    path: str
    status: str
    message: str = ""
    chunks: int = 0
    document_id: str | None = None
    pages: int | None = None
    hidden_removed: int = 0  # hidden text pieces and invisible characters the reader dropped
    figures: int = 0  # figure passages indexed


@dataclass
class GraphUpdate:
    """What bringing the entity graph up to date did: chunks read, mentions and relations written;
    for a model extractor its calls, tokens, fallbacks (unusable replies) and the error that
    stopped it (the chunks read before it are kept)."""

    extractor: str = ""
    chunks: int = 0
    mentions: int = 0
    relations: int = 0
    seconds: float = 0.0
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    fallbacks: int = 0
    error: str | None = None


@dataclass
class FigureTally:
    """What happened to figures over one ingest: found and indexed, skipped (decorative, logos,
    unreadable), OCR runs (new and cached) and their time, vision calls (new and cached), their
    time and tokens, and vision calls that failed (asked again on the next ingest)."""

    figures: int = 0
    skipped: int = 0
    ocr_runs: int = 0
    ocr_cached: int = 0
    ocr_seconds: float = 0.0
    vision_calls: int = 0
    vision_cached: int = 0
    vision_seconds: float = 0.0
    vision_usage: Usage = field(default_factory=Usage)
    vision_failures: int = 0
    vision_cost: float | None = None  # US dollars, when [prices] names the vision model

    def price(self, input_per_million: float, output_per_million: float) -> None:
        """Set ``vision_cost`` from the vision model's prices (US dollars per million tokens)."""
        usage = self.vision_usage
        self.vision_cost = (usage.prompt_tokens * input_per_million
                            + usage.completion_tokens * output_per_million) / 1e6

    def summary(self) -> str:
        text = f"{self.figures} figures"
        if self.skipped:
            text += f" ({self.skipped} pictures skipped: decorative, repeated or unreadable)"
        if self.ocr_runs:
            text += f", text read in {self.ocr_runs} by OCR in {self.ocr_seconds:.1f} s"
        if self.vision_calls or self.vision_cached or self.vision_failures:
            cost = f", ${self.vision_cost:.4f}" if self.vision_cost is not None else ""
            text += (f", {self.vision_calls} described by the vision model ({self.vision_usage.total_tokens} tokens"
                     f"{cost}) and {self.vision_cached} from the cache")
            if self.vision_failures:
                text += f", {self.vision_failures} not described (failed)"
        return text


@dataclass
class IngestReport:
    """The outcome of one ingest call, file by file."""

    files: list[FileOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    graph: GraphUpdate | None = None  # what the entity extractor read after storing; None: graph off
    figures: FigureTally = field(default_factory=FigureTally)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.files if outcome.status == status)

    @property
    def document_ids(self) -> list[str]:
        """Documents now in the index from this call (ingested or already up to date)."""
        return [o.document_id for o in self.files if o.document_id and o.status in ("ingested", "unchanged")]

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in ("ingested", "unchanged", "skipped", "failed"))
        if self.removed:
            counts += f", {len(self.removed)} removed"
        hidden = sum(o.hidden_removed for o in self.files)
        if hidden:
            counts += f", {hidden} hidden text pieces dropped"
        chunks = sum(o.chunks for o in self.files if o.status == "ingested")
        graph = ""
        if self.graph and self.graph.chunks:
            graph = f"; entity graph: {self.graph.chunks} chunks read in {self.graph.seconds:.2f} s"
            if self.graph.calls:
                graph += f" ({self.graph.calls} model calls, {self.graph.usage.total_tokens} tokens)"
        figures = f"; {self.figures.summary()}" if self.figures.figures or self.figures.skipped else ""
        return f"{counts}; {chunks} new chunks in {self.seconds:.2f} s{figures}{graph}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
