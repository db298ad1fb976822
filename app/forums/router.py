from app.common.router import resource_router
from app.forums.schemas import ForumQuery
from app.forums.service import spec

router = resource_router(spec, query_model=ForumQuery)
