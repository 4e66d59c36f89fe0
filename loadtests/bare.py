"""The load test's baseline: one FastAPI endpoint doing no work, served by uvicorn exactly like the API (same
workers, same locust client), so each ratio in bench/results/load.json says what maeul's own work costs."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    import sys

    from core.serving import serve

    serve("loadtests.bare:app", host="127.0.0.1", port=int(sys.argv[1]), workers=int(sys.argv[2]))
