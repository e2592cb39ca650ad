"""Runnable example applications (``python examples/NAME.py``); ``traceglass demo`` runs them all.

Each sends its OpenAI calls to the bundled OpenAI-compatible server (started for the run) unless
``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set, and its Claude calls to the same server (it speaks
Anthropic's Messages API too) unless ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_BASE_URL`` is set
(``traceglass demo-server`` runs that server alone and prints the base URLs to use), and stores its
traces where ``traceglass.configure()`` puts them (the SQLite store by default; ``TRACEGLASS_DB`` picks
the file).
"""

# The order `traceglass demo` runs them in; read_traces last, to show what the others stored.
DEMO_ORDER = (
    "rag_pipeline",
    "deepeval_agent",
    "openai_tools_streaming",
    "anthropic_tools_streaming",
    "litellm_two_providers",
    "langchain_agent",
    "openai_agents_tools",
    "llamaindex_rag",
    "sessions_users",
    "chat_feedback",
    "openai_zero_code",
    "read_traces",
)
