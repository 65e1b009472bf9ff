# realtime-agent web: the voice page, the browser relay and the Twilio bridge.
#   docker build -t realtime-agent-web .
#   docker run -p 8000:8000 -e REALTIME_AGENT_WEB_SECRET=... [-e OPENAI_API_KEY=...] realtime-agent-web
# Without OPENAI_API_KEY it talks to the embedded local Realtime server (offline speech).
# Python 3.11, the version CI tests; every dependency of the web and voice extras ships a
# manylinux wheel for it (no compiler needed: pip download --only-binary=:all: finds all).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# libsndfile for soundfile comes in its wheel; nothing else is needed from apt.
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY .ci/constraints.txt .ci/constraints.txt
COPY realtime_agent realtime_agent
RUN pip install --only-binary=:all: -c .ci/constraints.txt '.[web,voice]' \
    && useradd --system --uid 10001 --home-dir /nonexistent voice

USER voice
EXPOSE 8000
# SIGTERM drains: /healthz turns 503, live calls get --drain-timeout to finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["realtime-agent", "web", "--host", "0.0.0.0", "--port", "8000"]
