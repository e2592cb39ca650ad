# syntax=docker/dockerfile:1
# The traceglass team server: `traceglass ui` (dashboard, REST API, OTLP/HTTP receiver) as a stateless
# replica over PostgreSQL. See docs/guides/team-server.md.
#
#   docker build -t traceglass .
#   docker run -p 8080:8080 \
#     -e TRACEGLASS_DB='postgresql://traceglass:PASSWORD@db.internal:5432/traceglass' \
#     -e TRACEGLASS_TOKEN='a long random token' traceglass
#
# TRACEGLASS_DB: a postgresql:// URL (or, for a single replica, a SQLite file on a mounted volume).
# TRACEGLASS_TOKEN: required, as the server listens on every interface; /healthz and /readyz need none.
# Neither is baked into the image: pass them at run time (an orchestrator's secret, an env file).

ARG PYTHON_VERSION=3.12

# --- build: the wheel, from the sources alone (no tests, no virtualenv in the context) ---
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- run: the wheel with the server and PostgreSQL extras, as an unprivileged user ---
FROM python:${PYTHON_VERSION}-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install "$(ls /wheels/traceglass-*.whl)[server,postgres]"
RUN groupadd --system --gid 10001 traceglass \
    && useradd --system --uid 10001 --gid traceglass --home-dir /var/lib/traceglass --create-home \
       --shell /usr/sbin/nologin traceglass
WORKDIR /var/lib/traceglass
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8080
# On SIGTERM the server stops accepting, finishes the requests in flight for at most --shutdown-timeout
# seconds, closes the database and exits 0. Give the container longer than that before SIGKILL:
# Kubernetes waits 30 s by default, `docker stop` only 10 s (use `docker stop -t 30`, or Compose's
# stop_grace_period: 30s). The exec form keeps traceglass as PID 1, so the signal reaches it.
STOPSIGNAL SIGTERM
# Liveness only (the process answers); readiness (/readyz: the database answers) is for the load balancer.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["traceglass", "ui"]
CMD ["--host", "0.0.0.0", "--port", "8080", "--shutdown-timeout", "20"]
