from app.common.router import resource_router
from app.trainings.schemas import TrainingQuery
from app.trainings.service import spec

router = resource_router(spec, query_model=TrainingQuery)
