from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app.common.responses import problems
from app.db import reading
from app.errors import Unavailable

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health, operation_id="healthz", summary="The process is up")
async def healthz():
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Health,
    operation_id="readyz",
    summary="The database answers",
    responses={503: problems()[503]},
)
async def readyz(request: Request):
    try:
        async with reading(request.app.state.engine) as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise Unavailable("The database is not reachable.") from exc
    return {"status": "ready"}


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
