# The vectrain service, for the docker-compose stack (talks to the clickhouse service).
# Two stages: the first builds vectrain's wheel from the checkout, the second installs that wheel
# (not an editable checkout), as a user would.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vectrain ./vectrain
RUN pip wheel --no-deps -w /wheels .

FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
# CPU-only torch: the pinned torch==2.13.0 from the PyTorch CPU index keeps the image small.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY --from=build /wheels /wheels
RUN pip install /wheels/vectrain-*.whl && rm -rf /wheels
# Runs from an empty folder as an unprivileged user; the embedded database (unused with a server)
# would live in that user's data folder.
RUN useradd --create-home vectrain
USER vectrain
WORKDIR /home/vectrain
EXPOSE 8000
CMD ["vectrain", "serve", "--host", "0.0.0.0", "--port", "8000"]
