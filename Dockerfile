# The vectrain service, for the docker-compose stack (talks to the clickhouse service).
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
# CPU-only torch: the pinned torch==2.13.0 from the PyTorch CPU index keeps the image small.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY service ./service
COPY loaders ./loaders
COPY sql ./sql
RUN pip install -e .
EXPOSE 8000
CMD ["vectrain", "serve", "--host", "0.0.0.0", "--port", "8000"]
