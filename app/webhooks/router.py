"""`/api/v1/webhooks`: endpoints from the shared machinery (the secret shown once, by POST), the delivery log,
retry and test."""

from typing import Annotated

from fastapi import Path, Request, Response

from app.auth.deps import holding
from app.auth.permissions import Perm
from app.common.pagination import ListQuery
from app.common.responses import problems
from app.common.router import Nested, RecordId, resource_router, set_etag
from app.common.spec import to_read
from app.common.types import MAX_INT64
from app.db import DbConn
from app.webhooks import service
from app.webhooks.schemas import EventAccepted, WebhookCreate, WebhookCreated, WebhookQuery

WebhooksManager = holding(Perm.WEBHOOKS)
DeliveryId = Annotated[int, Path(ge=1, le=MAX_INT64, description="The delivery attempt's id")]

router = resource_router(
    service.spec, query_model=WebhookQuery, ops=("list", "get", "update", "delete"), singular="webhook"
)
router.include_router(
    resource_router(
        service.delivery_spec,
        nested=Nested(service.spec, "deliveries", "delivery_id"),
        query_model=ListQuery,
        ops=("list",),
        plural="webhook_deliveries",
        singular="webhook_delivery",
        summaries={"list": "Every finished delivery attempt to the endpoint, oldest first"},
    )
)


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    operation_id="create_webhook",
    summary="Register an endpoint (its signing secret is shown once, in this answer)",
    responses=problems(403, 409, 413),
)
async def create_webhook(
    body: WebhookCreate, request: Request, response: Response, conn: DbConn, principal: WebhooksManager
):
    record, secret = await service.create(conn, principal, body)
    set_etag(response, service.spec, record)
    response.headers["Location"] = f"{request.url.path}/{record['id']}"
    response.headers["Cache-Control"] = "no-store"
    return {**to_read(service.spec, record), "secret": secret}


@router.post(
    "/{id}/deliveries/{delivery_id}/retry",
    response_model=EventAccepted,
    status_code=202,
    operation_id="retry_webhook_delivery",
    summary="Send that attempt's event again now, with the same webhook-id",
    responses=problems(403, 404, 409),
)
async def retry_delivery(id: RecordId, delivery_id: DeliveryId, conn: DbConn, principal: WebhooksManager):
    return await service.retry(conn, principal, id, delivery_id)


@router.post(
    "/{id}/test",
    response_model=EventAccepted,
    status_code=202,
    operation_id="test_webhook",
    summary="Send a webhook.test event to the endpoint",
    responses=problems(403, 404, 409),
)
async def test_webhook(id: RecordId, conn: DbConn, principal: WebhooksManager):
    return await service.send_test(conn, principal, id)
