from app.common.router import crud_router
from app.forums.schemas import ForumQuery
from app.forums.service import spec

router = crud_router(spec, query_model=ForumQuery)
