from app.common.router import crud_router
from app.surveys.schemas import SatisfactionSurveyQuery
from app.surveys.service import spec

router = crud_router(spec, query_model=SatisfactionSurveyQuery)
