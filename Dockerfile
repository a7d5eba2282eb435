# sohoa: the CLI and pipeline with Tesseract (Vietnamese) inside, run as a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    OMP_THREAD_LIMIT=1 \
    SOHOA_DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd tesseract-ocr-eng \
      poppler-utils qpdf ghostscript fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY pipeline ./pipeline
COPY flows ./flows
COPY models ./models
COPY storage ./storage
COPY config ./config
COPY app ./app
RUN pip install -c requirements.lock . \
 && useradd --create-home --uid 10001 sohoa \
 && mkdir -p /data && chown sohoa:sohoa /data

USER sohoa
VOLUME ["/data"]
ENTRYPOINT ["sohoa"]
CMD ["--help"]
