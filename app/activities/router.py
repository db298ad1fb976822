from app.activities.schemas import ActivityQuery, ActivityReportQuery
from app.activities.service import report_spec, spec
from app.common.router import Nested, resource_router

router = resource_router(spec, query_model=ActivityQuery, ops=("list", "get", "create", "update"), singular="activity")
router.include_router(
    resource_router(
        report_spec,
        nested=Nested(spec, "reports", "report_id"),
        plural="activity_reports",
        singular="activity_report",
        query_model=ActivityReportQuery,
        ops=("list", "create"),
    )
)
