# Production image: `obsrvr-flow serve` (default) or `obsrvr-flow worker`.
# Stage 1 bundles GraphiQL's and the console's assets (npm registry, package-lock.json); stage 2 builds a
# virtualenv with the pinned dependencies and those assets, compiling the XDR skipper `ledgers._xdrskip`, the entry-change builder `ledgers._fastchanges` and the COPY encoder `storage._copybin` (setup.py;
# build-essential is there for it and for any dependency without a wheel); stage 3 copies it into a slim runtime (no Node.js, no node_modules).
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./web
RUN node web/build.mjs

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY core ./core
COPY ledgers ./ledgers
COPY processors ./processors
COPY storage ./storage
COPY resolvers ./resolvers
COPY services ./services
COPY schema ./schema
COPY api ./api
COPY --from=web /web/api/static/graphiql ./api/static/graphiql
COPY --from=web /web/api/static/console ./api/static/console
COPY ingest ./ingest
COPY workers ./workers
COPY migrations ./migrations
COPY obsrvr_flow ./obsrvr_flow
RUN /opt/venv/bin/pip install -c constraints.txt . \
    && cd / && OBSRVR_XDRSKIP=c OBSRVR_COPYBIN=c /opt/venv/bin/python -c "import ledgers.skippers, storage.copy_writes"  # fails if one was not compiled

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 flow && useradd --system --uid 10001 --gid flow --home-dir /app flow
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=flow:flow examples ./examples
RUN mkdir -p /data/cold && chown flow:flow /data/cold
USER flow
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
ENTRYPOINT ["obsrvr-flow"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
