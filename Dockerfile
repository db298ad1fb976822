FROM python:3.11-slim
WORKDIR /srv
# the runtime lock alone: exact versions, checked against their hashes (scripts/lock.sh makes it)
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY data ./data
RUN useradd --system --home-dir /srv dx && mkdir -p /srv/var && chown dx /srv/var
USER dx
ENV DX_ENVIRONMENT=production PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
