from app.common.router import crud_router
from app.unit_plans.schemas import UnitPlanQuery
from app.unit_plans.service import spec

router = crud_router(spec, query_model=UnitPlanQuery)
