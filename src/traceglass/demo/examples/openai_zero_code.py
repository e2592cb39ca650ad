"""A small app that uses the real ``openai`` client and no tracing code at all.

Run it under ``opentelemetry-instrument`` and traceglass's OpenAI instrumentor traces every call
(the ``traceglass_openai`` entry point), the cost processor prices them, and the SQLite exporter
stores them. With the bundled OpenAI-compatible server running in another terminal
(``traceglass demo-server``, which prints its URL and serves until Ctrl-C):

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=traceglass-demo \\
    OTEL_TRACES_EXPORTER=traceglass_sqlite,console \\
    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai \\
    opentelemetry-instrument python examples/openai_zero_code.py

``OPENAI_BASE_URL`` points it at any OpenAI-compatible server; with only a real
``OPENAI_API_KEY`` it calls OpenAI; with neither set, it starts the bundled server itself for the
run (``traceglass demo`` runs it that way).
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai`` turns off the official ``openai`` instrumentor
if it is installed too, so each call makes one span.
"""

from __future__ import annotations

import openai

from traceglass.demo import openai_endpoint


def run(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}],
        temperature=0.2,
    )
    print("chat:", reply.choices[0].message.content)

    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream a greeting."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    print("stream:", "".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    vectors = client.embeddings.create(model="text-embedding-3-small", input=["first text", "second text"])
    print("embeddings:", len(vectors.data), "vectors of", len(vectors.data[0].embedding))

    response = client.responses.create(model="gpt-4o", input="One more hello, please.")
    print("responses:", response.output_text)


def main() -> None:
    with openai_endpoint() as endpoint:
        run(endpoint.client(max_retries=0))


if __name__ == "__main__":
    main()
