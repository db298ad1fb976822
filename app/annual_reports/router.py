from app.annual_reports.schemas import AnnualReportQuery
from app.annual_reports.service import spec
from app.common.router import resource_router

router = resource_router(spec, query_model=AnnualReportQuery)
