"""Upstream OpenTelemetry attribute names, pinned to semantic conventions v1.41.

Every GenAI item is still "Development" upstream; from core v1.42 they moved to the
``semantic-conventions-genai`` repository, which publishes only ``-dev`` releases. We keep our
own constants (rather than importing ``opentelemetry-semantic-conventions``, whose ``GEN_AI_*``
names are deprecated-moved since 0.66b2) so a release of that package cannot rename our output.
"""

# --- operation and provider -------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_DATA_SOURCE_ID = "gen_ai.data_source.id"


class GenAIOperation:
    """Values of ``gen_ai.operation.name``."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    GENERATE_CONTENT = "generate_content"
    EMBEDDINGS = "embeddings"
    RETRIEVAL = "retrieval"
    EXECUTE_TOOL = "execute_tool"
    CREATE_AGENT = "create_agent"
    INVOKE_AGENT = "invoke_agent"
    INVOKE_WORKFLOW = "invoke_workflow"


class GenAIProvider:
    """Well-known values of ``gen_ai.provider.name``."""

    OPENAI = "openai"
    AZURE_AI_OPENAI = "azure.ai.openai"
    AZURE_AI_INFERENCE = "azure.ai.inference"
    ANTHROPIC = "anthropic"
    AWS_BEDROCK = "aws.bedrock"
    GCP_GEMINI = "gcp.gemini"
    GCP_VERTEX_AI = "gcp.vertex_ai"
    GCP_GEN_AI = "gcp.gen_ai"
    COHERE = "cohere"
    DEEPSEEK = "deepseek"
    GROQ = "groq"
    IBM_WATSONX_AI = "ibm.watsonx.ai"
    MISTRAL_AI = "mistral_ai"
    PERPLEXITY = "perplexity"
    X_AI = "x_ai"


class GenAIFinishReason:
    """Values of an output message's ``finish_reason`` (any other string is allowed)."""

    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    TOOL_CALL = "tool_call"
    ERROR = "error"


class GenAIOutputType:
    """Values of ``gen_ai.output.type``."""

    TEXT = "text"
    JSON = "json"
    IMAGE = "image"
    SPEECH = "speech"


# --- request ----------------------------------------------------------------------------
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"

# --- response ---------------------------------------------------------------------------
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"

# --- usage ------------------------------------------------------------------------------
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"

# --- read, never written: names older releases, the GenAI repo's main and peers write ------
# traceglass._span_usage reads a span's usage from every instrumentation's dialect, so also:
GEN_AI_SYSTEM = "gen_ai.system"  # provider name before v1.37 (older peers still write it)
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"  # genai main's rename
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # before v1.27
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # before v1.27
OPENLLMETRY_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read_input_tokens"  # OpenLLMetry
OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation_input_tokens"  # OpenLLMetry
OPENINFERENCE_MODEL_NAME = "llm.model_name"
OPENINFERENCE_PROVIDER = "llm.provider"
OPENINFERENCE_PROMPT_TOKENS = "llm.token_count.prompt"
OPENINFERENCE_COMPLETION_TOKENS = "llm.token_count.completion"
OPENINFERENCE_CACHE_READ_TOKENS = "llm.token_count.prompt_details.cache_read"
OPENINFERENCE_CACHE_WRITE_TOKENS = "llm.token_count.prompt_details.cache_write"
OPENINFERENCE_SYSTEM = "llm.system"
OPENINFERENCE_TOTAL_TOKENS = "llm.token_count.total"
OPENINFERENCE_REASONING_TOKENS = "llm.token_count.completion_details.reasoning"
OPENLLMETRY_REASONING_TOKENS = "gen_ai.usage.reasoning_tokens"  # OpenLLMetry
OPENLLMETRY_TOTAL_TOKENS = "llm.usage.total_tokens"  # OpenLLMetry


class GenAITokenType:
    """Values of ``gen_ai.token.type`` on the token usage metric."""

    INPUT = "input"
    OUTPUT = "output"


# --- content (JSON strings on Python spans) ---------------------------------------------
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"

# --- embeddings and retrieval -----------------------------------------------------------
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
GEN_AI_RETRIEVAL_QUERY_TEXT = "gen_ai.retrieval.query.text"
# An array of objects that SHOULD carry "id" and "score"; we add "content" when captured.
GEN_AI_RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"

# --- tools ------------------------------------------------------------------------------
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"


class GenAIToolType:
    """Values of ``gen_ai.tool.type``."""

    FUNCTION = "function"
    EXTENSION = "extension"
    DATASTORE = "datastore"


# --- agents -----------------------------------------------------------------------------
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_AGENT_VERSION = "gen_ai.agent.version"
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"

# --- evaluations ------------------------------------------------------------------------
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
# The event (a log record parented to the evaluated span) that carries the four above.
EVENT_GEN_AI_EVALUATION_RESULT = "gen_ai.evaluation.result"

# --- OpenAI specifics (docs/gen-ai/openai.md) -------------------------------------------
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"
OPENAI_API_TYPE = "openai.api.type"


class OpenAIApiType:
    """Values of ``openai.api.type``."""

    CHAT_COMPLETIONS = "chat_completions"
    RESPONSES = "responses"


# --- Anthropic specifics: the names the anthropic SDK's own spans use (anthropic >= 0.80) ---
ANTHROPIC_THINKING_TYPE = "anthropic.thinking.type"
ANTHROPIC_THINKING_BUDGET_TOKENS = "anthropic.thinking.budget_tokens"
ANTHROPIC_RESPONSE_SERVICE_TIER = "anthropic.response.service_tier"
ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS = "anthropic.message.count_tokens.input_tokens"


# --- general ----------------------------------------------------------------------------
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
# The exception event (the spec's "exception" span event and its attributes).
EVENT_EXCEPTION = "exception"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
EXCEPTION_ESCAPED = "exception.escaped"
SESSION_ID = "session.id"
USER_ID = "user.id"
SERVICE_NAME = "service.name"

# A value of error.type the spec reserves for "an error we cannot name better".
ERROR_TYPE_OTHER = "_OTHER"

# --- metrics ----------------------------------------------------------------------------
METRIC_GEN_AI_CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_GEN_AI_CLIENT_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"

# Explicit bucket boundaries advised by the spec for the two client histograms.
TOKEN_USAGE_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)

# --- span events ------------------------------------------------------------------------
# Content goes here when the user asked for EVENT_ONLY / SPAN_AND_EVENT capture.
EVENT_GEN_AI_INFERENCE_DETAILS = "gen_ai.client.inference.operation.details"

__all__ = [name for name in list(globals()) if name.isupper() or name.startswith(("GenAI", "OpenAI"))]
