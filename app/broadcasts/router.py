from app.broadcasts.schemas import BroadcastQuery
from app.broadcasts.service import spec
from app.common.router import resource_router

router = resource_router(spec, query_model=BroadcastQuery)
