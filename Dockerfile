# syntax=docker/dockerfile:1
# youwei: one image for every service, the public page and the youwei command.
#
#   docker build -t youwei .
#   docker run youwei records                 # a service (cadre_registry, evaluations,
#                                             # inspections, accountability, records, or all)
#   docker run youwei youwei db init          # the youwei command
#
# The base is pinned by its full version tag, the same in both stages. Pin it by digest as
# well where a registry is reachable: `docker buildx imagetools inspect
# python:3.11.15-slim-bookworm` prints the multi-platform index digest; append
# `@sha256:<digest>` to both FROM lines (docs/operations.md, "Build the image"). No digest is
# written here: none could be read from a registry where this file was written, and an
# unverified one would be worse than none.

# --- build: wheels of youwei and of its locked dependencies ------------------------------
FROM python:3.11.15-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY deploy/image-requirements.txt ./
RUN pip wheel --wheel-dir /wheels --requirement image-requirements.txt
COPY pyproject.toml README.md ./
COPY events ./events
COPY schemas ./schemas
COPY services ./services
COPY youwei ./youwei
RUN pip wheel --wheel-dir /wheels --no-deps .

# --- runtime: the wheels installed, no compiler, no build tools, no pip -------------------
FROM python:3.11.15-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="youwei" \
      org.opencontainers.image.description="Event-sourced backend for cadre-conduct accountability" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    YOUWEI_CONFIG=/app/services/config.yaml \
    WEB_SERVER_ADDRESS=0.0.0.0:8000 \
    METRICS_ADDRESS=0.0.0.0:9100 \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 youwei \
 && useradd --system --uid 10001 --gid youwei --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin youwei
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels youwei \
 && rm -rf /wheels \
 && python -m pip uninstall --yes pip
WORKDIR /app
COPY services/config.yaml /app/services/config.yaml
USER 10001:10001
EXPOSE 8000 9100
# Readiness of the process (events.observability: /readyz on METRICS_ADDRESS's port, whatever
# it is set to): docker-compose waits for it;
# Kubernetes has probes of its own (k8s/base).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "youwei.entrypoint", "healthcheck"]
ENTRYPOINT ["python", "-m", "youwei.entrypoint"]
CMD ["all"]
