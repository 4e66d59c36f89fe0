# The maeul API and CLI. Build: docker build -t maeul .  (see docker-compose.yml for the whole stack)

# the dashboards' JavaScript libraries, pinned in package-lock.json (anvil, an optional test tool, is left out)
FROM node:20-slim AS pages-assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY accounts ./accounts
COPY api ./api
COPY billing ./billing
COPY cars ./cars
COPY cli ./cli
COPY core ./core
COPY feedback ./feedback
COPY geo ./geo
COPY jobs ./jobs
COPY kpi ./kpi
COPY ledger ./ledger
COPY matching ./matching
COPY mobility ./mobility
COPY ops ./ops
COPY parking ./parking
COPY routing ./routing
COPY sim ./sim
COPY migrations ./migrations
COPY --from=pages-assets /assets/node_modules/leaflet/dist ./node_modules/leaflet/dist
COPY --from=pages-assets /assets/node_modules/chart.js/dist ./node_modules/chart.js/dist
RUN uv sync --locked --no-dev && useradd --system maeul
USER maeul
ENV PATH="/app/.venv/bin:$PATH" MAEUL_API_HOST=0.0.0.0
EXPOSE 8000
CMD ["maeul", "serve"]
