"""The vocabulary of GenAI spans, as data: which attribute keys each instrumentation
writes for what, and what its operation names and span kinds mean.

Every dialect :mod:`genai_cost.usage` reads (the OpenTelemetry GenAI conventions,
current and deprecated, OpenInference, OpenLLMetry, OpenLIT, Logfire / Pydantic AI,
the Vercel AI SDK) is a table here: the keys of each slot of the one-pass scan, best
first (``VOCABULARY``), the roles operation names and span kinds give a span, and
the instrumentation scopes whose counts leave something out. It exists so that
supporting a new name or a new instrumentation is an edit to data, apart from the
reader's logic (``usage.py``) and from the readers of the JSON spans carry
(``_usage_json.py``), both of which import it: nothing here imports them.

Private: the public names (``Role``, ``KNOWN_KEYS``, ``USAGE_ON_STREAM_LOG_SCOPES``,
:func:`vocabulary`) are imported from :mod:`genai_cost.usage`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Role(Enum):
    """What a span is, as far as cost is concerned."""

    NONE = "none"  #: not GenAI work
    LLM = "llm"  #: a leaf inference call: priced
    EMBEDDING = "embedding"  #: a leaf embedding call: priced
    TOOL = "tool"  #: a tool execution: priced from the tool catalog
    RETRIEVAL = "retrieval"  #: a retriever / vector store query: priced from the tool catalog
    AGGREGATE = "aggregate"  #: agent / workflow / wrapper: carries its children's usage; never priced
    OTHER = "other"  #: GenAI, but not billable by itself (fetch_response, memory ops)


# Slots of the one-pass scan. Each known attribute key maps to (slot, rank);
# the lowest rank seen wins, so the current semconv name beats deprecated ones.
OP, OI_KIND, AI_OP = 0, 1, 2
PROVIDER, RESPONSE_MODEL, REQUEST_MODEL = 3, 4, 5
INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, CACHE_WRITE_5M, CACHE_WRITE_1H = 6, 7, 8, 9, 10, 11
REASONING, INPUT_AUDIO, OUTPUT_AUDIO, CACHE_READ_AUDIO, INPUT_IMAGE, OUTPUT_IMAGE = 12, 13, 14, 15, 16, 17
SERVICE_TIER, REQUESTED_TIER, TOOL, REPORTED_COST, BATCH, DATA_SOURCE = 18, 19, 20, 21, 22, 23
RESPONSE_ID, INVOCATION_PARAMETERS = 24, 25
REASONING_EXCLUDED, USAGE_JSON, TOTAL, RESPONSE_JSON = 26, 27, 28, 29
SERVER_ADDRESS = 30
SLOTS = 31

#: The Vercel AI SDK's name of what a span is (``ai.generateText``, ``ai.embedMany.doEmbed``, ...).
AI_OPERATION_KEY = "ai.operationId"

VOCABULARY: dict[int, tuple[str, ...]] = {
    # OpenLLMetry's ``llm.request.type`` (chat, completion, embedding) on every call span it
    # makes, also one without counts (a stream without usage): a call, flagged if unpriced.
    OP: ("gen_ai.operation.name", "llm.request.type"),
    OI_KIND: ("openinference.span.kind",),
    AI_OP: (AI_OPERATION_KEY,),
    PROVIDER: ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider"),
    RESPONSE_MODEL: ("gen_ai.response.model", "llm.response.model_name", "ai.response.model"),
    REQUEST_MODEL: ("gen_ai.request.model", "llm.model_name", "ai.model.id", "embedding.model_name"),
    INPUT: (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "ai.usage.inputTokens",
        "ai.usage.promptTokens",
        "ai.usage.tokens",  # Vercel AI SDK embed / embedMany
        "llm.usage.prompt_tokens",  # OpenLLMetry's first names, still written by hand-made spans
    ),
    OUTPUT: (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "ai.usage.outputTokens",
        "ai.usage.completionTokens",
        "llm.usage.completion_tokens",
    ),
    CACHE_READ: (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.details.cache_read_tokens",
        "ai.usage.inputTokenDetails.cacheReadTokens",
        "ai.usage.cachedInputTokens",
    ),
    CACHE_WRITE: (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.usage.details.cache_write_tokens",
        "ai.usage.inputTokenDetails.cacheWriteTokens",
        # Strands Agents' pre-semconv name (emitted beside cache_creation.input_tokens,
        # and alone by releases that had only it)
        "gen_ai.usage.cache_write_input_tokens",
    ),
    CACHE_WRITE_5M: (
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens",
        "gen_ai.usage.details.ephemeral_5m_input_tokens",
    ),
    CACHE_WRITE_1H: (
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
        "gen_ai.usage.details.ephemeral_1h_input_tokens",
    ),
    REASONING: (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
        "gen_ai.usage.details.reasoning_tokens",
        "ai.usage.outputTokenDetails.reasoningTokens",
        "ai.usage.reasoningTokens",
        # OpenLIT 1.45.0's google_adk (Gemini's thoughts_token_count; outside its output
        # count, as with OpenLIT's other Gemini instrumentations: EXCLUSIVE_OUTPUT_SCOPES)
        "gen_ai.usage.completion_tokens_details.reasoning_tokens",
    ),
    # Google ADK 1.x (its call_llm span): Gemini's thoughts_token_count, which its
    # gen_ai.usage.output_tokens (candidates_token_count) does not include.
    REASONING_EXCLUDED: ("gen_ai.usage.experimental.reasoning_tokens",),
    INPUT_AUDIO: (
        "gen_ai.usage.audio.input_tokens",
        "llm.token_count.prompt_details.audio",
        "gen_ai.usage.details.input_audio_tokens",
    ),
    OUTPUT_AUDIO: (
        "gen_ai.usage.audio.output_tokens",
        "llm.token_count.completion_details.audio",
        "gen_ai.usage.details.output_audio_tokens",
    ),
    # (Pydantic AI: ``cache_audio_read_tokens``, part of its cache_read_tokens)
    CACHE_READ_AUDIO: ("gen_ai.usage.audio.cache_read.input_tokens", "gen_ai.usage.details.cache_audio_read_tokens"),
    INPUT_IMAGE: ("gen_ai.usage.image.input_tokens",),
    OUTPUT_IMAGE: ("gen_ai.usage.image.output_tokens",),
    # (the gen_ai.* names without "openai": OpenLIT before 1.45, LangSmith)
    SERVICE_TIER: (
        "openai.response.service_tier",
        "gen_ai.openai.response.service_tier",
        "gen_ai.response.service_tier",
    ),
    REQUESTED_TIER: (
        "openai.request.service_tier",
        "gen_ai.openai.request.service_tier",
        "gen_ai.request.service_tier",
    ),
    # haystack.tool.name: Haystack's own tracing (opentelemetry-haystack), its agent's
    # `haystack.agent.step.tool` span, the one record of a tool run there.
    TOOL: ("gen_ai.tool.name", "tool.name", "ai.toolCall.name", "haystack.tool.name"),
    # LiteLLM's OpenTelemetry callback writes its response_cost as gen_ai.cost.total_cost (the
    # same figure OpenInference's LiteLLM instrumentation writes as llm.cost.total).
    REPORTED_COST: (
        "gen_ai.usage.cost.amount",
        "operation.cost",
        "gen_ai.usage.cost",
        "llm.cost.total",
        "gen_ai.cost.total_cost",
    ),
    BATCH: ("gen_ai.cost.batch",),
    DATA_SOURCE: ("gen_ai.data_source.id", "db.system.name", "db.system"),
    RESPONSE_ID: ("gen_ai.response.id", "llm.response.id"),
    INVOCATION_PARAMETERS: ("llm.invocation_parameters",),
    # JSON with the provider's own usage, read for the counts the span's attributes leave
    # out. Google ADK's JSON of the model's response: its usage_metadata is the only place
    # ADK 1.x records the cached tokens (and older 1.x releases the thinking tokens).
    # Logfire's provider usage object (5.2.0, 6.0.0b8): the only place those releases put
    # the cache split, beside an input count that includes it. The Vercel AI SDK's provider
    # metadata: up to AI SDK 5 the only place of Anthropic's and Bedrock's cache writes (and,
    # on a generate span, of Anthropic's cache reads and Gemini's thinking), and in every
    # release the only place of Anthropic's 1-hour cache writes (see AI_SDK_5_CONVENTIONS).
    USAGE_JSON: ("gcp.vertex.agent.llm_response", "gen_ai.usage.raw", "ai.response.providerMetadata"),
    # Read only as a checksum of the other counts (see _inclusive): Strands Agents copies
    # Bedrock's usage, whose input leaves out the cache and whose total counts it.
    TOTAL: ("gen_ai.usage.total_tokens", "llm.usage.total_tokens"),
    # OpenInference's JSON of the response: Anthropic's usage object in it is the only record
    # of the web searches a call ran, of the speed it was served at (fast mode) and of which
    # cache writes have the 1-hour TTL, which no instrumentation writes as attributes (see
    # _served_by_anthropic).
    RESPONSE_JSON: ("output.value",),
    # The host that served the call (OpenLLMetry: the client's base URL), read when the span
    # names the client's provider (OPENAI_CLIENT_PROVIDERS): see OPENAI_COMPATIBLE_HOSTS.
    SERVER_ADDRESS: ("server.address", "gen_ai.openai.api_base"),
}

KEYS: dict[str, tuple[int, int]] = {
    key: (slot, rank) for slot, keys in VOCABULARY.items() for rank, key in enumerate(keys)
}

#: Attribute keys read from spans.
KNOWN_KEYS: frozenset[str] = frozenset(KEYS)

#: Slots whose keys alone do not make a span GenAI work (every database span
#: has ``db.system.name``).
GENERIC_SLOTS: frozenset[int] = frozenset(
    {DATA_SOURCE, BATCH, RESPONSE_ID, INVOCATION_PARAMETERS, USAGE_JSON, TOTAL, RESPONSE_JSON, SERVER_ADDRESS}
)

#: Provider names an instrumentation writes for the client library it instruments, whatever
#: service answered: the ``openai`` client is pointed at other providers' OpenAI-compatible
#: APIs (``base_url``), and its instrumentations still say ``openai``.
OPENAI_CLIENT_PROVIDERS: frozenset[str] = frozenset({"openai"})

#: Hosts of OpenAI-compatible APIs -> the catalog's provider (from genai-prices' ``api_pattern``
#: of each provider, 0.2.3): a span of the ``openai`` client whose host is one of these is
#: that provider's call. Only providers whose OpenAI-compatible usage is OpenAI's (inclusive
#: input and output counts); an unknown host (a proxy, a gateway of one's own) stays OpenAI's.
OPENAI_COMPATIBLE_HOSTS: dict[str, str] = {
    "api.groq.com": "groq",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
    "openrouter.ai": "openrouter",
    "api.openrouter.ai": "openrouter",
    "api.deepseek.com": "deepseek",
    "api.x.ai": "x-ai",
    "api.mistral.ai": "mistral",
    "api.cerebras.ai": "cerebras",
    "api.perplexity.ai": "perplexity",
    "api.moonshot.ai": "moonshotai",
    "api.moonshot.cn": "moonshotai",
    "api.novita.ai": "novita",
    "api.z.ai": "zai",
}

TOKEN_SLOTS: tuple[int, ...] = (
    INPUT,
    OUTPUT,
    CACHE_READ,
    CACHE_WRITE,
    CACHE_WRITE_5M,
    CACHE_WRITE_1H,
    REASONING,
    INPUT_AUDIO,
    OUTPUT_AUDIO,
    CACHE_READ_AUDIO,
    INPUT_IMAGE,
    OUTPUT_IMAGE,
    REASONING_EXCLUDED,
)

#: Slot -> index in the counts list (the order of TOKEN_SLOTS).
TOKEN_POSITION: dict[int, int] = {slot: position for position, slot in enumerate(TOKEN_SLOTS)}
POSITION_CACHE_READ, POSITION_CACHE_WRITE = TOKEN_POSITION[CACHE_READ], TOKEN_POSITION[CACHE_WRITE]
POSITION_REASONING = TOKEN_POSITION[REASONING]
POSITION_REASONING_EXCLUDED = TOKEN_POSITION[REASONING_EXCLUDED]

OPERATION_ROLES: dict[str, Role] = {
    "chat": Role.LLM,
    "text_completion": Role.LLM,
    "completion": Role.LLM,
    "generate_content": Role.LLM,
    "responses": Role.LLM,
    # Semantic Kernel's names (its own, before the semconv ones)
    "chat.completions": Role.LLM,
    "chat.streaming_completions": Role.LLM,
    "text.completions": Role.LLM,
    "text.streaming_completions": Role.LLM,
    "embeddings": Role.EMBEDDING,
    "embedding": Role.EMBEDDING,
    "execute_tool": Role.TOOL,
    "retrieval": Role.RETRIEVAL,
    "invoke_agent": Role.AGGREGATE,
    "create_agent": Role.AGGREGATE,
    "invoke_workflow": Role.AGGREGATE,
    "plan": Role.AGGREGATE,
}

OPENINFERENCE_ROLES: dict[str, Role] = {
    "LLM": Role.LLM,
    "EMBEDDING": Role.EMBEDDING,
    "TOOL": Role.TOOL,
    "RETRIEVER": Role.RETRIEVAL,
    "AGENT": Role.AGGREGATE,
    "CHAIN": Role.AGGREGATE,
}

VERCEL_AGGREGATES: frozenset[str] = frozenset(
    {"ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject", "ai.embed", "ai.embedMany"}
)

#: The keys that say a span counts tokens, read (by name) only on an aggregate span with no
#: call recorded below it: its counts are then the only record of its calls.
AGGREGATE_COUNT_KEYS: tuple[str, ...] = (
    *VOCABULARY[INPUT],
    *VOCABULARY[OUTPUT],
    *VOCABULARY[TOTAL],
    "llm.token_count.total",
)

#: Spans an instrumentation gives a model call's kind although they make no call, by scope:
#: endings of their names. LlamaIndex wraps each abstract method of an LLM class in a span,
#: and OpenInference gives every span of an LLM object the ``LLM`` kind: a function-calling
#: agent's step opens ``OpenAI._prepare_chat_with_tools`` (``Anthropic....``, ``Gemini....``),
#: which only builds the request (llama_index/core/llms/function_calling.py), beside the call.
NOT_CALL_SPANS: dict[str, tuple[str, ...]] = {
    "openinference.instrumentation.llama_index": ("._prepare_chat_with_tools",),
}

#: Tool spans that are no run of a tool, by instrumentation scope: tool names. smolagents'
#: agents hand their answer back by calling the built-in ``final_answer`` tool
#: (smolagents/default_tools.py, ``FinalAnswerTool``), which does no work: flagged as an
#: unknown tool, it made every run's trace say a span could not be priced.
#: Agno's teams hand work to a member agent by calling the built-in ``delegate_task_to_member``
#: (``delegate_task_to_members`` for all of them; agno/team/_default_tools.py): the member's
#: own calls and tools are recorded, and priced, on its spans; the hand-off does no work.
NOT_TOOL_RUNS: dict[str, frozenset[str]] = {
    "openinference.instrumentation.smolagents": frozenset({"final_answer"}),
    "openinference.instrumentation.agno": frozenset({"delegate_task_to_member", "delegate_task_to_members"}),
    "openlit.instrumentation.agno": frozenset({"delegate_task_to_member", "delegate_task_to_members"}),
}

#: Instrumentations that never make their spans current, by scope (the scope is also the
#: module whose import says the instrumentation may run). OpenInference's LangChain tracer
#: does not attach its spans to the context ("attaching the context can be hazardous",
#: openinference-instrumentation-langchain's ``_tracer.py``), so a provider SDK's
#: instrumentation records the same call under whatever was current before the chain: an
#: ancestor of the LangChain span, or nothing (a trace of its own). Both records are leaves;
#: neither is below the other (openinference issue 1103). One call, two records, matched by
#: model, counts and time (``docs/attributes.md``, "Records that are not nested").
DETACHED_CALL_SCOPES: frozenset[str] = frozenset({"openinference.instrumentation.langchain"})

#: Instrumentations that record a streamed call on a span they start once the stream has been
#: read, under what was current before the call (the span they started for the stream is
#: never ended): OpenLIT 1.45's provider instrumentations (``openlit.instrumentation.groq``,
#: ``.ollama``, ``.cohere``, ``.mistral``...), marking the call ``gen_ai.request.stream``. With
#: another instrumentation of the same SDK, that one's record of the call ended just before
#: (under the span never ended): one call, two records, neither below the other and not
#: overlapping. By scope prefix; the module whose import says they may run.
RECORDED_AFTER_STREAM_SCOPE_PREFIX, RECORDED_AFTER_STREAM_MODULE = "openlit.instrumentation.", "openlit"
STREAM_REQUEST_KEY = "gen_ai.request.stream"

#: Tool names an instrumentation qualifies with their plugin, by scope: the separator.
#: Semantic Kernel names a tool span's tool by its function's fully qualified name,
#: ``<Plugin>-<function>`` (``WeatherPlugin-get_weather``; plugin names are letters, digits and
#: ``_``, so the first ``-`` ends the plugin): a tool the pricing file lists by its function's
#: name is priced by that name when the qualified one has no price.
QUALIFIED_TOOL_NAMES: dict[str, str] = {
    "semantic_kernel.functions.kernel_function": "-",
}

#: The MCP semantic conventions' method of a request: an MCP client's span of a ``tools/call``
#: request (the mcp SDK 2.x's ``MCP send tools/call X``, which names no tool) stands between
#: the agent's record of a tool run and the server's, and passes the run up (one run, two records).
MCP_METHOD_KEY, MCP_TOOLS_CALL = "mcp.method.name", "tools/call"

#: What names the conversation a span belongs to, best first: the GenAI conventions'
#: id (Pydantic AI and Google ADK write it) and OpenInference's
#: session (``using_session``, on every span in its context). Read by ``genai-cost report
#: --by conversation`` only: a conversation spans traces, which the live roll-up does not.
CONVERSATION_KEYS = ("gen_ai.conversation.id", "session.id")

#: Keys read by name, beside the scan.
COST_AMOUNT = "gen_ai.usage.cost.amount"
OPERATION_KEY = "gen_ai.operation.name"
COST_CURRENCY = "gen_ai.usage.cost.currency"

#: Flags of ``_Kind.exclusive_scope``: what an instrumentation leaves out of its counts.
INPUT_EXCLUDES_CACHE = 1
OUTPUT_EXCLUDES_REASONING = 2

#: Instrumentations known to report output WITHOUT reasoning (thinking) tokens for some
#: providers, and the thinking apart: OpenLIT 1.45.0's ``google_ai_studio`` writes Gemini's
#: ``candidates_token_count`` as the output and ``thoughts_token_count`` as
#: ``gen_ai.usage.reasoning_tokens`` (its provider ``gemini``). Without this, a call thinking
#: less than it wrote (300 thinking, 500 visible) was billed for the 500 only.
EXCLUSIVE_OUTPUT_SCOPES: tuple[tuple[str, str], ...] = (
    ("openlit", "gemini"),
    ("openlit", "google"),
    ("openlit", "vertex"),
)

#: Logfire's OpenAI and Anthropic integrations record a streamed call's usage on a log
#: span of its own ("streaming response from ... took ...s", priced as the call); the
#: request span, ended as the stream began, counts no tokens and is not the call's record.
USAGE_ON_STREAM_LOG_SCOPES: frozenset[str] = frozenset({"logfire.openai", "logfire.anthropic"})
#: Logfire's Claude Agent SDK integration: each ``chat`` span has only the SDK's
#: per-message usage (``gen_ai.usage.partial.*``, which Logfire marks unreliable); the
#: ``invoke_agent`` span has the run's usage and its cost (``operation.cost``, the SDK's
#: ``total_cost_usd``), and is the record priced.
AGENT_RUN_RECORD_SCOPES: frozenset[str] = frozenset({"logfire.claude_agent_sdk"})

#: Instrumentations known to report input WITHOUT cache tokens for some providers.
EXCLUSIVE_INPUT_SCOPES: tuple[tuple[str, str], ...] = (
    ("openlit", "anthropic"),
    # Bedrock reports input without cache reads and writes (Converse ``inputTokens``, the
    # Anthropic body's ``input_tokens`` through InvokeModel), and these instrumentations copy
    # it as-is: the official genai-bedrock 1.3b0, OpenLLMetry's bedrock 0.62.4 and OpenLIT
    # 1.45.0 (its ``openlit.instrumentation.bedrock``, matched by the ``openlit`` prefix).
    # OpenInference folds the cache into its prompt count: inclusive, not listed.
    ("opentelemetry.instrumentation.genai.bedrock", "bedrock"),
    ("opentelemetry.instrumentation.bedrock", "bedrock"),
    ("openlit", "bedrock"),
)


#: The Vercel AI SDK up to release 5 (LanguageModelV2 providers; V1 in AI SDK 4) puts each
#: provider's own counts on its spans as they are, and its providers copy them from the API's
#: usage: ``@ai-sdk/anthropic`` 2.x Anthropic's ``input_tokens`` (without the cache reads and
#: writes), ``@ai-sdk/amazon-bedrock`` 3.x Converse's ``inputTokens`` (likewise), and
#: ``@ai-sdk/google`` 2.x (Gemini API and Vertex) Gemini's ``candidatesTokenCount`` as the
#: output (without the thinking, which is its ``reasoningTokens``). AI SDK 6 computes inclusive
#: totals and writes the parts beside them (``ai.usage.inputTokenDetails.*``,
#: ``ai.usage.outputTokenDetails.*``), so a span with those keys is read as any inclusive span.
#: (provider name part, what its counts leave out), matched in ``ai.model.provider``
#: (``anthropic.messages``, ``vertex.anthropic.messages``, ``amazon-bedrock``,
#: ``google.generative-ai``, ``google.vertex.chat``). The OpenAI providers' counts are the
#: API's inclusive ones: not listed.
AI_SDK_5_CONVENTIONS: tuple[tuple[str, int], ...] = (
    ("anthropic", INPUT_EXCLUDES_CACHE),
    ("bedrock", INPUT_EXCLUDES_CACHE),
    ("google", OUTPUT_EXCLUDES_REASONING),
)
#: The AI SDK's own count keys on a call's span (``promptTokens`` / ``completionTokens`` on a
#: generate span up to release 5, ``inputTokens`` / ``outputTokens`` on a stream span, and on
#: every span from release 6).
AI_SDK_COUNT_KEYS: frozenset[str] = frozenset(
    {"ai.usage.promptTokens", "ai.usage.completionTokens", "ai.usage.inputTokens", "ai.usage.outputTokens"}
)
#: Prefixes of the keys only AI SDK 6 and later write beside their inclusive totals.
AI_SDK_DETAIL_PREFIXES: tuple[str, ...] = ("ai.usage.inputTokenDetails.", "ai.usage.outputTokenDetails.")


def vocabulary() -> Iterable[tuple[str, str]]:
    """(attribute key, concept) for every key read; for docs and tests."""
    names = {
        OP: "operation",
        OI_KIND: "span kind (OpenInference)",
        AI_OP: "operation (Vercel AI SDK)",
        PROVIDER: "provider",
        RESPONSE_MODEL: "model (served)",
        REQUEST_MODEL: "model (requested)",
        INPUT: "input tokens",
        OUTPUT: "output tokens",
        CACHE_READ: "cache read tokens",
        CACHE_WRITE: "cache write tokens",
        CACHE_WRITE_5M: "cache write tokens, 5-minute TTL",
        CACHE_WRITE_1H: "cache write tokens, 1-hour TTL",
        REASONING: "reasoning tokens",
        REASONING_EXCLUDED: "reasoning tokens, not included in the output count (Google ADK 1.x)",
        USAGE_JSON: "the provider's usage as JSON (Google ADK's response, Logfire's raw usage, the Vercel AI"
        " SDK's provider metadata), for counts the span leaves out",
        INPUT_AUDIO: "audio input tokens",
        OUTPUT_AUDIO: "audio output tokens",
        CACHE_READ_AUDIO: "audio cache read tokens",
        INPUT_IMAGE: "image input tokens",
        OUTPUT_IMAGE: "image output tokens",
        SERVICE_TIER: "service tier (served)",
        REQUESTED_TIER: "service tier (requested; used only when the served one is absent)",
        TOOL: "tool name",
        REPORTED_COST: "cost already on the span",
        BATCH: "batch flag",
        DATA_SOURCE: "data source (retrieval)",
        INVOCATION_PARAMETERS: "request parameters (OpenInference JSON; service_tier read when none was served)",
        RESPONSE_ID: "response id (one call recorded by two instrumentations is priced once)",
        TOTAL: "total tokens (only to tell whether the input count includes the cache)",
        RESPONSE_JSON: "the response as JSON (OpenInference), for an Anthropic call's web searches, fast mode"
        " and 1-hour cache writes",
        SERVER_ADDRESS: "the host that served the call: another provider's OpenAI-compatible API, when the"
        " provider is the client's (openai)",
    }
    for slot, keys in VOCABULARY.items():
        for key in keys:
            yield key, names[slot]
