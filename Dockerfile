# sav-bridge: one container next to the helpdesk. Build: docker build -t sav-bridge .
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY adapters/zendesk/pyproject.toml adapters/zendesk/
COPY sav_bridge/__init__.py sav_bridge/
COPY adapters/zendesk/sav_bridge_zendesk/__init__.py adapters/zendesk/sav_bridge_zendesk/
RUN pip install -e . -e ./adapters/zendesk

COPY sav_bridge sav_bridge
COPY adapters adapters
COPY schemas schemas
COPY policies policies

RUN useradd --system --uid 10001 --home-dir /data --create-home savbridge
USER savbridge
WORKDIR /data
ENV SAV_BRIDGE_DATABASE_URL=sqlite:////data/sav-bridge.db
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]

ENTRYPOINT ["sav-bridge"]
CMD ["serve"]
