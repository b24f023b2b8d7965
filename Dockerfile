# attache-bot: build a virtualenv in one stage, run it as a non-root user in the next.
# Secrets never enter the image: pass them at run time as ATTACHE_*_FILE (Docker secrets).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
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
# COPY keeps the sources' old mtimes: drop the placeholder build so setuptools rebuilds it all.
RUN rm -rf build ./*.egg-info \
    && /opt/venv/bin/pybabel compile -d commands/locales -D messages \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/python -m compileall -q /opt/venv

FROM python:3.11-slim
RUN groupadd --gid 10001 attache \
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
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["attache-bot", "healthcheck"]
ENTRYPOINT ["attache-bot"]
CMD ["run"]
