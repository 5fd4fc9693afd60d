# syntax=docker/dockerfile:1
# One image for every Amparo process: `amparo api` (default), `amparo worker`,
# `amparo db upgrade`. Production install: no `embedded` extra (the cluster is
# real), no `test` extra.

# --- build: install the package and its dependencies into a virtualenv ------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the wheel is built from (see [tool.hatch.build.targets.wheel]).
COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY store/ store/
COPY api/ api/
COPY amparo/ amparo/
COPY reports/ reports/
COPY worker.py ./
RUN pip install --no-cache-dir .

# --- runtime: the virtualenv only, run as an unprivileged user ---------------
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    AMPARO_LOG_FORMAT=json \
    AMPARO_DATA_DIR=/var/lib/amparo

RUN groupadd --system --gid 10001 amparo \
    && useradd --system --uid 10001 --gid amparo --no-create-home \
       --home-dir /var/lib/amparo --shell /usr/sbin/nologin amparo \
    && mkdir -p /var/lib/amparo \
    && chown amparo:amparo /var/lib/amparo

COPY --from=build /opt/venv /opt/venv

WORKDIR /var/lib/amparo
USER 10001:10001

EXPOSE 8000
CMD ["amparo", "api", "--host", "0.0.0.0", "--port", "8000"]
