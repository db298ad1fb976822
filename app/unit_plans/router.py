from app.common.router import resource_router
from app.unit_plans.schemas import UnitPlanQuery
from app.unit_plans.service import spec

router = resource_router(spec, query_model=UnitPlanQuery)
