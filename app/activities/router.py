from app.activities.schemas import ActivityQuery, ActivityReportQuery
from app.activities.service import report_spec, spec
from app.common.router import crud_router, nested_router

router = crud_router(spec, query_model=ActivityQuery, ops=("list", "get", "create", "update"), singular="activity")
router.include_router(
    nested_router(
        spec,
        report_spec,
        "reports",
        child_param="report_id",
        plural="activity_reports",
        singular="activity_report",
        query_model=ActivityReportQuery,
        ops=("list", "create"),
    )
)
