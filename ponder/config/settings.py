"""The settings: one pydantic model per section of the config file, in its order, each field with
its default and the description ``ponder`` shows. Reading them from files, the environment and
flags is :mod:`ponder.config.loading`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, model_validator


def _readable_suffixes() -> frozenset[str]:
    from ponder.ingest.readers import SUPPORTED_SUFFIXES  # the readers know their formats

    return SUPPORTED_SUFFIXES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestConfig(_Section):
    chunk_size: int = Field(300, ge=32, description="Chunk size limit in tokens (see tokenizer).")
    chunk_overlap: int = Field(40, ge=0, description="Tokens repeated from the previous chunk.")
    tokenizer: Literal["e5", "estimate"] = Field(
        "e5", description="Counts chunk tokens: e5 is the bundled embedder's tokenizer; estimate needs no model.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are refused.")
    max_sheet_rows: int = Field(100_000, ge=1, description=(
        "Rows read from one sheet (or CSV); the rest is left out with a warning naming the sheet."))
    pdf_engine: Literal["layout", "text", "pymupdf"] = Field(
        "layout", description="layout: headings, tables, reading order (slower); text: the text layer only; "
                              "pymupdf: PyMuPDF's layout engine (AGPL-3.0, pip install 'ponder[pymupdf]').")
    pdf_passwords: dict[str, str] = Field(
        default_factory=dict, description='Passwords of encrypted PDFs by file name or glob: {"report.pdf" = "1234"}.')
    ocr: bool = Field(False, description="OCR pages without a text layer (needs rapidocr-onnxruntime).")
    figures: bool = Field(True, description="Find figures (PDF pictures, DOCX and HTML images) and index each as "
                                            "a passage: caption, the sentences citing it, the text inside it.")
    figure_ocr: bool = Field(True, description="Read the text inside figures that have no text layer with "
                                               "RapidOCR, when rapidocr-onnxruntime is installed (ponder[ocr]).")
    workers: int = Field(0, ge=0, le=64, description=(
        "Processes converting files; 0: one per core (max 4) for 8 files or more, else 1."))
    file_timeout_s: float = Field(300.0, ge=0, description=(
        "A file that takes longer to convert is named and skipped (its process is killed). Files are "
        "converted in child processes for this; 0: no limit, and one worker converts in-process."))
    worker_memory_mb: int = Field(4096, ge=0, description=(
        "Address-space cap of each conversion process: a decompression bomb fails its file, not the "
        "machine (Linux, macOS). 0: no cap."))

    @model_validator(mode="after")
    def _pdf_engine_can_do_it(self) -> IngestConfig:
        if self.ocr and self.pdf_engine == "text":
            raise ValueError("ingest.ocr needs ingest.pdf_engine = 'layout' (the text engine reads text layers only)")
        if self.pdf_engine == "pymupdf" and importlib.util.find_spec("pymupdf4llm") is None:
            raise ValueError("ingest.pdf_engine = 'pymupdf' needs PyMuPDF, which is AGPL-3.0 and not in the default "
                             "install: pip install 'ponder[pymupdf]'")
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IngestConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self


class RetrieveConfig(_Section):
    mode: Literal["hybrid", "bm25", "dense", "graph", "hybrid+graph"] = Field(
        "hybrid", description="hybrid: BM25 and dense fused by reciprocal rank; bm25 also skips embedding at ingest; "
                              "graph: a walk over the entity graph from the question's entities; hybrid+graph: "
                              "BM25, dense and the walk fused, with graph.bridge_slots of the top k given to "
                              "what the best hits lead to.")
    top_k: int = Field(5, ge=1, le=100, description="Passages given to the model.")
    candidates: int = Field(40, ge=1, le=1000, description="Hits each retriever contributes to the fusion.")
    rrf_k: float = Field(60.0, gt=0, description="Reciprocal rank fusion constant: score = sum(w / (rrf_k + rank)).")
    bm25_weight: float = Field(1.0, ge=0)
    # 3: on RGB, equal weights let BM25 pull hybrid below dense alone; 3 brings it level (benchmarks/).
    dense_weight: float = Field(3.0, ge=0)
    min_score: float = Field(0.0, ge=0, description="Hits scoring below this are dropped (0: keep all).")

    @property
    def uses_bm25(self) -> bool:
        return self.mode in ("hybrid", "bm25", "hybrid+graph")

    @property
    def uses_vectors(self) -> bool:
        """Dense retrieval is on, so ingest embeds chunks and the vector index is kept current."""
        return self.mode in ("hybrid", "dense", "hybrid+graph")

    @property
    def uses_graph(self) -> bool:
        return self.mode in ("graph", "hybrid+graph")


class GraphConfig(_Section):
    """The entity graph built at ingest and the graph retriever walking it."""

    extractor: Literal["nlp", "llm", "none"] = Field(
        "nlp", description="nlp: entities by capitalisation and jieba's tags, no model; llm: typed entities and "
                           "relations with descriptions from the configured chat model; none: no graph.")
    glean: bool = Field(False, description="llm: a second call per chunk asks what the first missed.")
    # 0.5: on hotpotqa_100 1.0 gains as much, but costs single-hop RGB en_fact/zh_fact up to 0.05 recall@5.
    weight: float = Field(0.5, ge=0, description="hybrid+graph: the graph walk's weight in the fusion "
                                                 "(beside retrieve.bm25_weight and retrieve.dense_weight).")
    bridge_slots: int = Field(1, ge=0, le=10, description="hybrid+graph: of the top k, how many go to "
                                                          "passages the hybrid's hits lead to over the graph.")
    seed_passages: int = Field(5, ge=0, le=50, description="hybrid+graph: hybrid hits the walk starts from.")
    meaning_seeds: int = Field(0, ge=0, le=20, description="Entities the question's embedding is close to (beside "
                                                           "the names it contains) that also start the walk; 0: "
                                                           "none. Embeds every proper name that two or more "
                                                           "chunks mention when the graph is loaded (after an "
                                                           "ingest), cached beside it.")
    meaning_min: float = Field(0.85, ge=0, le=1, description="How close (cosine) such an entity's name must be to "
                                                             "the question.")
    seed_weights: Literal["rank", "dense"] = Field(
        "rank", description="hybrid+graph: how much the walk restarts at each of those hits: rank: 1/rank; dense: "
                            "its similarity to the question (HippoRAG 2's passage nodes).")
    passage_share: float = Field(0.5, ge=0, le=1, description="Share of the walk's restarts at those passages "
                                                              "(the rest at the question's entities).")
    candidates: int = Field(10, ge=1, le=200, description="hybrid+graph: the walk's best new passages that "
                                                          "compete, by similarity to the question, for a slot.")
    # 1.0: a bridge never displaces a passage closer to the question. Lower lets more bridges in; on RGB
    # zh_fact (single-hop) 0 cost 0.03 recall@5 (benchmarks/README.md).
    synonym_weight: float = Field(0.0, ge=0, description="Walk edges of this weight between an entity's names "
                                                        "(\"ada lovelace\" and \"lovelace\"); 0: none.")
    bridge_margin: float = Field(1.0, ge=0, description="hybrid+graph: a bridge takes a slot only when its "
                                                        "similarity to the question is at least this times that "
                                                        "of the passage it displaces.")
    # False, True: with these two hybrid+graph no longer loses MRR@10 to hybrid on RGB zh_int (-0.028 before),
    # at the cost of its MRR@10 gain on HotpotQA (benchmarks/README.md, issue 32).
    concept_seeds: bool = Field(False, description="hybrid+graph: whether Chinese noun compounds the question "
                                                   "names (not proper names) start the walk and lead the bridge "
                                                   "(retrieve.mode = 'graph' always uses them).")
    bridge: Literal["walk", "requery"] = Field(
        "walk", description="hybrid+graph: how the bridge slots are filled: walk: passages the walk from the first "
                            "hits reaches; requery: a second search with the names the first hits add.")
    first_hit_kept: bool = Field(True, description="hybrid+graph: the best hit of BM25 and dense alone stays "
                                                    "first, whatever the walk's vote.")


class _RemoteService(_Section):
    """Where a remote API lives, and how patiently to call it."""

    base_url: str = ""
    model: str = ""
    api_key: str = ""
    retries: int = Field(3, ge=0, le=10)
    timeout_s: float = Field(60.0, gt=0)

    def _require_endpoint(self, section: str, provider: str) -> None:
        if not (self.base_url and self.model):
            raise ValueError(f"{section}.provider = '{provider}' needs {section}.base_url and {section}.model")


class EmbedderConfig(_RemoteService):
    provider: Literal["e5", "openai"] = Field(
        "e5", description="e5: bundled multilingual-e5-small (offline); openai: an /v1/embeddings endpoint.")
    batch_size: int = Field(32, ge=1, le=2048)
    query_prefix: str = Field("", description='Prepended to queries, e.g. "query: " for e5 served remotely.')
    passage_prefix: str = Field("", description='Prepended to passages, e.g. "passage: ".')

    @model_validator(mode="after")
    def _endpoint_complete(self) -> EmbedderConfig:
        if self.provider == "openai":
            self._require_endpoint("embedder", self.provider)
        return self


class EmbeddedModelConfig(_Section):
    """The local llama.cpp server Ponder starts for roles with no ``base_url``."""

    model_path: str = Field("", description="A GGUF file; empty means the bundled Gemma 3 270M.")
    n_ctx: int = Field(4096, ge=512)
    n_threads: int = Field(2, ge=1)
    startup_timeout_s: float = Field(120.0, gt=0)


class VectorsConfig(_Section):
    backend: Literal["local", "milvus"] = Field(
        "local", description="local: an HNSW index beside the store; milvus: Milvus Lite or a Milvus server.")
    milvus_uri: str = Field("", description="A Milvus server (http://host:19530), or a file for Milvus Lite; "
                                            "empty: milvus.db in the data dir.")
    milvus_token: str = ""
    collection: str = Field("ponder", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class StoreConfig(_Section):
    backend: Literal["local", "milvus"] = Field(
        "local", description="local: documents, chunks, BM25, vectors and graph in files under data_dir (SQLite); "
                             "milvus: all of it in Milvus, shared by every ponder serve and ingest that points there.")
    milvus_uri: str = Field("", description="A Milvus server (http://host:19530), or a folder for Milvus Lite "
                                            "(one process only); empty: milvus-store.db in the data dir.")
    milvus_token: str = ""
    milvus_database: str = Field("", description="Milvus database; empty: the server's default.")
    collection_prefix: str = Field("ponder", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,120}$",
                                   description="Milvus collections are named <prefix>_<collection>_<table>.")
    milvus_fusion: Literal["ponder", "milvus"] = Field(
        "ponder", description="hybrid retrieval on a Milvus store. ponder: BM25 and dense each searched in Milvus, "
                              "fused here by weighted RRF (retrieve.bm25_weight, dense_weight); milvus: one Milvus "
                              "hybrid search with its RRF ranker (k = retrieve.rrf_k), which takes no weights.")
    claim_ttl_s: float = Field(600.0, gt=0, description=(
        "A writer's claim on a document it is converting; after this a crashed writer's claim lapses."))


class RerankerConfig(_RemoteService):
    provider: Literal["none", "endpoint", "llm"] = Field(
        "none", description="endpoint: a /v1/rerank API; llm: listwise by the chat model; none: off.")
    candidates: int = Field(20, ge=2, le=200, description="Fused hits the reranker reorders.")

    @model_validator(mode="after")
    def _endpoint_complete(self) -> RerankerConfig:
        if self.provider == "endpoint":
            self._require_endpoint("reranker", self.provider)
        return self


class ModelConfig(_Section):
    """One model role: where it is served and how to call it."""

    base_url: str = Field("", description="OpenAI-compatible endpoint; empty means the embedded model.")
    api_key: str = ""
    model: str = Field("", description="Model name sent to the endpoint.")
    prompt_style: Literal["auto", "chat", "completion"] = Field(
        "auto",
        description="chat: instruction-tuned models; completion: base models (few-shot prompt); "
        "auto: completion for the embedded model, chat for a configured endpoint.",
    )
    temperature: float | None = Field(None, ge=0, le=2, description="None: the role's default.")
    max_tokens: int = Field(512, ge=1)
    timeout_s: float = Field(120.0, gt=0, description="Longest wait for a response (or between streamed chunks).")
    retries: int = Field(2, ge=0, le=10, description="Retries on 429, 5xx, timeouts and connection errors.")

    @model_validator(mode="after")
    def _endpoint_needs_model(self) -> ModelConfig:
        if self.base_url and not self.model:
            raise ValueError(f"base_url is set ({self.base_url}) but model is empty; name the model to use")
        return self

    @property
    def is_embedded(self) -> bool:
        return not self.base_url

    @property
    def effective_prompt_style(self) -> Literal["chat", "completion"]:
        if self.prompt_style != "auto":
            return self.prompt_style
        return "completion" if self.is_embedded else "chat"


class ReasonerConfig(ModelConfig):
    """The thinking model. Left unset (no base_url, no model), the chat model plays this role too."""

    max_tokens: int = Field(2048, ge=1, description="Thinking included: R1-class models think at length.")


class ModelOverride(_Section):
    """Per-model settings, keyed by a glob over model names in ``[models."pattern"]``."""

    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    structured_output: Literal["grammar", "guided_json", "json_schema", "json_object", "text"] | None = Field(
        None, description="How to constrain JSON replies: grammar (the embedded llama.cpp), "
                          "guided_json (vLLM, SGLang), json_schema (OpenAI, Ollama, llama-server), "
                          "json_object (JSON mode) or text (parse tolerantly). "
                          "Unset: grammar for the embedded model, json_schema otherwise.")
    force_think: bool | None = Field(
        None, description='Start the answer with "<think>\\n" for R1-family models that skip thinking.')
    tools: bool | None = Field(
        None, description="Whether the endpoint takes OpenAI tool calls: the reasoning modes' calculator is then a "
                          "`calculate` tool the model calls, else a structured step. Unset: yes for a chat "
                          "endpoint, no for the embedded model and deepseek-reasoner (its API has none).")


AnsweringMode = Literal["direct", "reasoner", "think-then-answer", "agentic", "corrective", "global"]
ModeName = Literal[AnsweringMode, "auto"]
CueKind = Literal["overview", "numeric", "comparison", "multi_hop", "analysis"]  # kinds auto mode finds by cue words


class RouteConfig(_Section):
    """``auto`` mode: which mode each kind of question goes to, and the words that mark each kind
    (added to the built-in English and Chinese cue words)."""

    numeric: AnsweringMode = "reasoner"
    comparison: AnsweringMode = "reasoner"
    multi_hop: AnsweringMode = "agentic"
    analysis: AnsweringMode = "think-then-answer"
    overview: AnsweringMode = "global"  # about the corpus as a whole: themes, overall, 总结
    lookup: AnsweringMode = "direct"
    extra_cues: dict[CueKind, list[str]] = Field(
        default_factory=dict)


class ReasonConfig(_Section):
    mode: ModeName = Field("direct", description="The mode `ponder ask` uses without --mode.")
    query: Literal["none", "rewrite", "decompose", "hyde"] = Field(
        "none", description="Before retrieving: rewrite the question, split it into sub-questions, or "
                            "search with a hypothetical answer passage (HyDE).")
    context_tokens: int = Field(3000, ge=200, description="Passages given to a model, most relevant first.")
    handoff: Literal["thinking", "draft", "both"] = Field(
        "both", description="think-then-answer: what the reasoner passes to the chat model.")
    max_steps: int = Field(4, ge=1, le=20, description="agentic: most sub-questions before it must answer.")
    max_step_tokens: int = Field(12000, ge=500, description="agentic: token budget over all its model calls.")
    # True: with the embedded planner the loop's first search was a word or two of the question, and it read
    # 0.65 of the passages a single hybrid+graph search finds 0.96 of (benchmarks/agentic_retrieval.py).
    search_question_first: bool = Field(True, description="agentic: search the question itself before the first "
                                                          "plan, so the planner starts from what it finds.")
    min_relevant: int = Field(2, ge=1, description="corrective: fewer relevant passages than this -> retry.")
    retries: int = Field(1, ge=0, le=3, description="corrective: rewrite-and-retrieve rounds.")
    router: Literal["rules", "llm"] = Field("rules", description="auto: cue-word rules, or the chat model "
                                                                 "(falling back to the rules).")
    routes: RouteConfig = RouteConfig()
    answer_style: Literal["auto", "generative", "extractive"] = Field(
        "auto", description="generative: the model writes the answer; extractive: the passage sentences that "
                            "answer it, quoted with citations (nothing invented); auto: extractive for base "
                            "models (the embedded one), generative for the rest.")
    calculator: bool = Field(True, description="Compute numeric questions (change, percentage change, average, "
                             "total, share, ratio, difference) from the passages' tables and sentences, the "
                             "working stated, where answers are extractive; false: quote sentences only.")
    send_images: bool = Field(False, description="Send a figure passage's image with it (OpenAI image_url "
                                                 "content) to chat-style models that accept images; otherwise "
                                                 "its description stands for it.")
    on_unsupported: Literal["flag", "retry", "refuse"] = Field(
        "flag", description="When the grounding check finds numbers, names or sentences no passage supports: "
                            "flag them; retry once, naming them to the model; or refuse to answer.")


class PriceConfig(_Section):
    """US dollars per million tokens, as providers publish them (reasoning tokens bill as output)."""

    input: float = Field(..., ge=0)
    output: float = Field(..., ge=0)


class LogConfig(_Section):
    enabled: bool = Field(True, description="Log every model call to calls.db in the data dir.")


class ServeConfig(_Section):
    host: str = Field("127.0.0.1", description="ponder serve / ponder mcp --http: the address to listen on.")
    port: int = Field(8000, ge=1, le=65535)
    require_keys: bool = Field(True, description="Every request needs an API key (ponder keys create); "
                                                 "false serves every collection to anyone who can connect.")
    cors_origins: list[str] = Field(default_factory=list, description='Browser origins allowed to call the API '
                                                                      '(["*"] for any).')
    rate_limit_per_minute: int = Field(120, ge=0, description="Requests per API key per minute; 0: no limit.")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest file accepted by upload.")
    max_files_per_upload: int = Field(20, ge=1)
    upload_types: list[str] = Field(default_factory=lambda: sorted(_readable_suffixes()),
                                    description="File name endings accepted by upload (default: every format "
                                                "Ponder reads).")
    max_concurrent_answers: int = Field(64, ge=1, description="Questions answered at once; more wait their turn.")
    max_question_chars: int = Field(4000, ge=1, description="Longest question (or search query) a client may send.")
    max_messages: int = Field(100, ge=1, description="Most messages in one chat request.")
    max_conversation_chars: int = Field(50000, ge=1, description="Most characters over all messages of a chat "
                                        "request: the earlier turns condition the search and reach the model.")
    default_collection: str = Field("default", description="The collection that model 'ponder' answers from.")


class Config(_Section):
    data_dir: str = Field("", description="Where the index lives; empty means the platform data dir.")
    ingest: IngestConfig = IngestConfig()
    retrieve: RetrieveConfig = RetrieveConfig()
    graph: GraphConfig = GraphConfig()
    embedder: EmbedderConfig = EmbedderConfig()
    store: StoreConfig = StoreConfig()
    vectors: VectorsConfig = VectorsConfig()
    reranker: RerankerConfig = RerankerConfig()
    chat: ModelConfig = ModelConfig()
    reasoner: ReasonerConfig = ReasonerConfig()
    judge: ModelConfig = Field(default_factory=ModelConfig, description="ponder eval --judge: grades answers "
                                                                         "containment cannot; unset: the chat model.")
    vision: ModelConfig = Field(default_factory=ModelConfig, description="A model that reads images (GPT-4o-class, "
                                "Qwen-VL on vLLM or Ollama), describing each figure at ingest; unset: no descriptions.")
    embedded: EmbeddedModelConfig = EmbeddedModelConfig()
    models: dict[str, ModelOverride] = Field(default_factory=dict)
    reason: ReasonConfig = ReasonConfig()
    prices: dict[str, PriceConfig] = Field(default_factory=dict, description='[prices."model"]: for eval costs.')
    log: LogConfig = LogConfig()
    serve: ServeConfig = ServeConfig()

    @model_validator(mode="after")
    def _graph_retrieval_needs_graph(self) -> Config:
        if self.retrieve.uses_graph and self.graph.extractor == "none":
            raise ValueError(f"retrieve.mode = '{self.retrieve.mode}' needs the entity graph, but graph.extractor "
                             f"is 'none'; choose nlp or llm")
        return self

    @model_validator(mode="after")
    def _milvus_fusion_has_no_weights(self) -> Config:
        retrieve = self.retrieve
        if (self.store.backend == "milvus" and self.store.milvus_fusion == "milvus" and retrieve.mode == "hybrid"
                and retrieve.bm25_weight != retrieve.dense_weight):
            raise ValueError(f"store.milvus_fusion = 'milvus' fuses with Milvus's RRF, which has no weights, but "
                             f"retrieve.bm25_weight = {retrieve.bm25_weight:g} and retrieve.dense_weight = "
                             f"{retrieve.dense_weight:g}; set them equal, or use store.milvus_fusion = 'ponder'")
        return self

    @model_validator(mode="after")
    def _llm_extractor_needs_endpoint(self) -> Config:
        if self.graph.extractor == "llm" and not self.chat.base_url:
            raise ValueError("graph.extractor = 'llm' needs a configured chat model (chat.base_url and chat.model); "
                             "the embedded base model cannot extract entities, use 'nlp'")
        return self

    @property
    def has_vision(self) -> bool:
        return bool(self.vision.base_url)

    def role(self, name: Literal["chat", "reasoner", "judge", "vision"]) -> ModelConfig:
        """The settings a role runs with. An unset reasoner is the chat model with the reasoner's
        token budget and temperature; an unset judge is the chat model. The vision role has no
        stand-in (the embedded model reads no images): see ``has_vision``."""
        if name == "chat":
            return self.chat
        if name == "vision":
            return self.vision
        if name == "judge":
            return self.judge if (self.judge.base_url or self.judge.model) else self.chat
        if self.reasoner.base_url or self.reasoner.model:
            return self.reasoner
        # Only what was set explicitly, so per-model overrides still apply to the rest.
        endpoint = self.chat.model_dump(include=self.chat.model_fields_set - {"max_tokens", "temperature"})
        return ReasonerConfig(**(endpoint | self.reasoner.model_dump(include=self.reasoner.model_fields_set)))

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser() if self.data_dir else Path(platformdirs.user_data_dir("ponder"))

    def secret_values(self) -> list[str]:
        """Every credential set: the models', embedder's and reranker's keys, the Milvus token, PDF
        passwords. What a report or message quoting the configuration must mask (see
        :func:`ponder.text.redact`)."""
        values = [self.chat.api_key, self.reasoner.api_key, self.judge.api_key, self.vision.api_key,
                  self.embedder.api_key,
                  self.reranker.api_key, self.vectors.milvus_token, self.store.milvus_token,
                  *self.ingest.pdf_passwords.values()]
        return [value for value in dict.fromkeys(values) if value]
