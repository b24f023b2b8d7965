# attache-bot: build a virtualenv in one stage, run it as a non-root user in the next.
# Secrets never enter the image: pass them at run time as ATTACHE_*_FILE (Docker secrets).
# `make image` builds it with the labels filled in (version from pyproject.toml, commit).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# binutils: `strip` for the extension modules (scripts/slim_image.py); this stage only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first, so a code-only change reuses this layer.
COPY pyproject.toml README.md ./
RUN mkdir bot commands config \
    && touch bot/__init__.py commands/__init__.py config/__init__.py \
    && /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/pip uninstall -y attache-bot
COPY bot ./bot
COPY commands ./commands
COPY config ./config
COPY scripts/slim_image.py ./scripts/
# COPY keeps the sources' old mtimes: drop the placeholder build so setuptools rebuilds it all.
RUN rm -rf build ./*.egg-info \
    && /opt/venv/bin/pybabel compile -d commands/locales -D messages \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/python scripts/slim_image.py venv /opt/venv commands/locales \
    && /opt/venv/bin/python -m compileall -q /opt/venv
# The commit this image is built from (attache-bot --version, attache_build_info).
ARG REVISION=unknown
RUN printf '%s\n' "$REVISION" > "$(/opt/venv/bin/python -I -c 'import bot, os; print(os.path.dirname(bot.__file__))')/BUILD_COMMIT"

FROM python:3.11-slim
COPY scripts/slim_image.py /tmp/slim_image.py
RUN python /tmp/slim_image.py system \
    && rm /tmp/slim_image.py \
    && groupadd --gid 10001 attache \
    && useradd --uid 10001 --gid attache --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin attache \
    && mkdir -p /data \
    && chown attache:attache /data \
    && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ATTACHE_DATA_DIR=/data \
    ATTACHE_HTTP_ADDR=0.0.0.0:9100
# OCI annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md).
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="attache-bot" \
      org.opencontainers.image.description="End-to-end-encrypted Matrix bot for networks of defence attachés" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.created="$CREATED" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.licenses="$LICENSES"
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["attache-bot", "healthcheck"]
ENTRYPOINT ["attache-bot"]
CMD ["run"]
