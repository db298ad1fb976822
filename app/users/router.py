"""Users and API clients over HTTP (lead office only): the shared endpoints, a client's one-time secret,
and its revocation."""

from fastapi import Request, Response

from app.auth.deps import Admin
from app.common.responses import problems, record_headers
from app.common.router import IfMatch, RecordId, resource_router, set_etag
from app.common.spec import to_read
from app.db import DbConn
from app.users import service
from app.users.schemas import ApiClientCreate, ApiClientCreated, ApiClientQuery, UserQuery

users_router = resource_router(
    service.user_spec, query_model=UserQuery, ops=("list", "get", "create", "update"), singular="user"
)
clients_router = resource_router(
    service.client_spec, query_model=ApiClientQuery, ops=("list", "get"), singular="api_client"
)


@clients_router.post(
    "",
    response_model=ApiClientCreated,
    status_code=201,
    operation_id="create_api_client",
    summary="Register a machine client (its secret is shown once)",
    responses={**problems(403, 409, 413), **record_headers(201)},
)
async def create_api_client(
    body: ApiClientCreate, request: Request, response: Response, conn: DbConn, principal: Admin
):
    record, secret = await service.create_client(conn, principal, body)
    set_etag(response, service.client_spec, record)
    response.headers["Location"] = f"{request.url.path}/{record['id']}"
    response.headers["Cache-Control"] = "no-store"  # the secret: kept by no cache, and by no idempotency record
    return {**to_read(service.client_spec, record), "client_secret": secret}


@clients_router.delete(
    "/{id}",
    status_code=204,
    operation_id="revoke_api_client",
    summary="Revoke a machine client (its tokens stop working at once)",
    responses=problems(403, 404, 412),
)
async def revoke_api_client(id: RecordId, conn: DbConn, principal: Admin, if_match: IfMatch = None):
    await service.revoke_client(conn, principal, id, if_match)
    return Response(status_code=204)
