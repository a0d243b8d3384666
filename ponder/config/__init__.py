"""One typed configuration with embedded defaults.

Sources, lowest priority first: the defaults below, a TOML file (``ponder.toml`` in the working
directory, ``$PONDER_CONFIG``, or ``--config PATH``), ``PONDER_*`` environment variables
(``PONDER_DATA_DIR``, ``PONDER_CHAT__BASE_URL``: a double underscore steps into a section), and
explicit overrides (command-line flags). A wrong key or value stops start-up with a
:class:`ConfigError` naming the key, where it came from, and the valid choices.

Example ``ponder.toml`` for DeepSeek, a fast chat model and R1 as the reasoner::

    [chat]
    base_url = "https://api.deepseek.com/v1"
    model = "deepseek-chat"
    # api_key comes from the environment: PONDER_CHAT__API_KEY=sk-...

    [reasoner]
    base_url = "https://api.deepseek.com/v1"
    model = "deepseek-reasoner"

    [models."*qwq*"]          # per-model overrides, by glob over model names
    temperature = 0.6
"""

from ponder.config.loading import (  # noqa: F401 - the package's names
    ENV_PREFIX,
    NON_SETTING_ENV,
    ConfigError,
    load_config,
)
from ponder.config.settings import (  # noqa: F401 - the package's names
    AnsweringMode,
    Config,
    CueKind,
    EmbeddedModelConfig,
    EmbedderConfig,
    GraphConfig,
    IngestConfig,
    LogConfig,
    ModelConfig,
    ModelOverride,
    ModeName,
    PriceConfig,
    ReasonConfig,
    ReasonerConfig,
    RerankerConfig,
    RetrieveConfig,
    RouteConfig,
    ServeConfig,
    StoreConfig,
    VectorsConfig,
)
