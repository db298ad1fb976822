from app.broadcasts.schemas import BroadcastQuery
from app.broadcasts.service import spec
from app.common.router import crud_router

router = crud_router(spec, query_model=BroadcastQuery)
