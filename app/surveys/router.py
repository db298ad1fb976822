from app.common.router import resource_router
from app.surveys.schemas import SatisfactionSurveyQuery
from app.surveys.service import spec

router = resource_router(spec, query_model=SatisfactionSurveyQuery)
