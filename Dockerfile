# sav-bridge: one container next to the helpdesk. Build: docker build -t sav-bridge .
#
# The base is pinned by digest (the multi-arch index of python:3.11-slim: linux/amd64 and linux/arm64), so a
# rebuild gets the same system; refresh it with `docker buildx imagetools inspect python:3.11-slim` (README,
# "Container and compose"). Third-party packages come only from requirements.lock (`make lock`), each file
# checked against its hash; the two local packages are built from this source as ordinary wheels.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS deps

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, so code changes do not reinstall them. The lock includes setuptools, which builds the
# local packages below without fetching anything.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock

FROM deps AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sav_bridge sav_bridge
COPY schemas schemas
COPY policies policies
COPY adapters/zendesk adapters/zendesk
COPY adapters/freshdesk adapters/freshdesk
COPY adapters/salesforce adapters/salesforce
RUN pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels . ./adapters/zendesk ./adapters/freshdesk \
    ./adapters/salesforce

FROM deps
# Not editable: the code, the schemas and the default policy are installed into site-packages and
# /usr/local/share/sav-bridge; nothing is read from a source folder.
COPY --from=wheels /wheels /tmp/wheels
RUN pip install --no-deps --no-index /tmp/wheels/*.whl && pip check && rm -rf /tmp/wheels
# The SFDX project a Salesforce admin deploys (README, section Salesforce), readable from the image.
COPY adapters/salesforce/metadata /usr/local/share/sav-bridge/salesforce-metadata

RUN useradd --system --uid 10001 --home-dir /data --create-home savbridge
USER savbridge
WORKDIR /data
ENV SAV_BRIDGE_DATABASE_URL=sqlite:////data/sav-bridge.db
VOLUME ["/data"]
EXPOSE 8080

# Ready means the store answers and the policy is loaded (/readyz), not merely that the process is up.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('SAV_BRIDGE_SERVER__PORT') or '8080'; sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=2).status != 200)"]

ENTRYPOINT ["sav-bridge"]
CMD ["serve"]
