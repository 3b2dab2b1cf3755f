# syntax=docker/dockerfile:1
# Kvitt's image: `kvitt serve` by default; `kvitt worker`, `kvitt migrate` and the simulators
# run from the same image (compose.yaml). Installs exactly the pinned versions of
# requirements.lock, as `make install` does. docs/operations.md says how to run it.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The dependencies first, in a layer that changes only with pyproject.toml and the lock: the
# runtime dependencies (no dev or bench extras) at exactly the versions requirements.lock pins.
COPY pyproject.toml requirements.lock README.md ./
RUN mkdir -p src/kvitt && touch src/kvitt/__init__.py \
    && python -m venv /opt/kvitt \
    && /opt/kvitt/bin/pip install --constraint requirements.lock . \
    && /opt/kvitt/bin/pip uninstall --yes kvitt
# Then Kvitt itself (with its migrations, templates, static files and fonts).
COPY src ./src
RUN /opt/kvitt/bin/pip install --no-deps --constraint requirements.lock . \
    && /opt/kvitt/bin/pip check

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="Kvitt" \
      org.opencontainers.image.description="Self-hostable recurring invoicing and payments for Swedish issuers" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
RUN groupadd --system --gid 10001 kvitt \
    && useradd --system --uid 10001 --gid kvitt --home-dir /var/lib/kvitt --shell /usr/sbin/nologin kvitt \
    && mkdir -p /var/lib/kvitt/print /var/lib/kvitt/inbox /var/lib/kvitt/einvoice \
    && chown -R kvitt:kvitt /var/lib/kvitt
COPY --from=build /opt/kvitt /opt/kvitt
ENV PATH=/opt/kvitt/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KVITT_HOST=0.0.0.0 \
    KVITT_PORT=8000 \
    KVITT_LOG_JSON=true \
    KVITT_EMBEDDED_WORKER=false \
    KVITT_PRINT_DIR=/var/lib/kvitt/print
WORKDIR /var/lib/kvitt
USER kvitt:kvitt
EXPOSE 8000
# Liveness of `kvitt serve` (the worker and the simulators set their own in compose.yaml).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["kvitt"]
CMD ["serve"]
