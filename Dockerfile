# syntax=docker/dockerfile:1
#
# Customer Graph gateway image.
#
#   docker build -t customer-graph .
#   docker run -p 8000:8000 -e CG_DATABASE_URL=postgresql+asyncpg://... customer-graph
#
# Two stages: the builder has Node.js and npm, which the build hook
# (hatch_build.py) needs to fetch GraphiQL and React from the npm registry into
# the wheel; the runtime stage gets only the built wheels, so it carries no
# Node.js, no compiler and no source tree.

FROM python:3.11-slim AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md hatch_build.py constraints.txt ./
COPY gateway ./gateway
COPY connectors ./connectors

# Wheels for the project and every dependency, so the runtime stage installs
# offline from /wheels; the dependencies at the versions the test suite last
# passed with (constraints.txt). gateway/static/vendor/ is in .dockerignore:
# the hook always fetches the pinned, integrity-checked assets here.
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=cache,target=/root/.npm \
    pip wheel --constraint constraints.txt --wheel-dir /wheels .


FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels customer-graph

# An unprivileged user; /data is its working directory, where the default
# SQLite database (CG_DATABASE_URL unset) is created.
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home app
USER app
WORKDIR /data

EXPOSE 8000

# Matches the default CMD's port; change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["customer-graph"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
