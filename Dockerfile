# learndyn in a container: the same `learndyn serve` that `python3 run.py serve` runs.
#   docker build -t learndyn .
#   docker run --rm -p 8000:8000 -e LEARNDYN_WORKERS=4 learndyn
# The image needs no network when it runs: the docs assets come with the installed packages.
# tests/test_dockerfile.py lints this file and replays its steps in a fresh virtual environment.
FROM python:3.12-slim-bookworm

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin learndyn

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/learndyn \
    PATH=/opt/learndyn/bin:$PATH

RUN python -m venv /opt/learndyn

# The runtime dependencies only: the project with its [server] extra, without [test].
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY clients ./clients
RUN pip install "/src[server]"

USER 10001
WORKDIR /home/learndyn

# Compile the descent kernels once, as the runtime user, into a cache the image keeps.
ENV NUMBA_CACHE_DIR=/home/learndyn/.cache/numba \
    LEARNDYN_PORT=8000 \
    LEARNDYN_WORKERS=2
RUN learndyn warmup

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['LEARNDYN_PORT'] + '/healthz', timeout=4)"]
CMD ["learndyn", "serve", "--host", "0.0.0.0"]
