from app.common.router import crud_router
from app.units.schemas import UnitQuery
from app.units.service import spec

router = crud_router(spec, query_model=UnitQuery, ops=("list", "get", "create", "update"))
