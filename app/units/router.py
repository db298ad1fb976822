from app.common.router import resource_router
from app.units.schemas import UnitQuery
from app.units.service import spec

router = resource_router(spec, query_model=UnitQuery, ops=("list", "get", "create", "update"))
