from app.common.router import crud_router
from app.trainings.schemas import TrainingQuery
from app.trainings.service import spec

router = crud_router(spec, query_model=TrainingQuery)
