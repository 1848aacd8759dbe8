# syntax=docker/dockerfile:1
#
# docker build -t simple-flask .
# docker run --rm -p 8080:8080 --stop-timeout 15 simple-flask
#
# Two stages on the same pinned base: the first builds a virtual environment
# at /opt/venv from hash-checked packages, the second copies only that
# environment and start.py, and runs as an unprivileged user.

FROM python:3.12.12-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# An environment without pip: the image needs no installer at run time; the
# base image's pip installs into it (pip --python). Bytecode is compiled here,
# once, so the read-only image never needs to write it. The build backend
# (setuptools, wheel) is hash-pinned like the runtime set, so no unchecked
# package runs during the build.
RUN python -m venv --without-pip /opt/venv
COPY requirements-build.txt requirements.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements-build.txt \
    && pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes -r requirements.txt

# The project itself, built offline with the pinned backend and installed
# without dependencies: every dependency came from requirements.txt above.
COPY pyproject.toml setup.py README.md LICENSE ./
COPY simple_flask ./simple_flask
COPY simple_flask_blueprint ./simple_flask_blueprint
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && pip --python /opt/venv/bin/python install --no-cache-dir --no-deps /wheels/simple_flask-*.whl


FROM python:3.12.12-slim-bookworm

LABEL org.opencontainers.image.title="simple_flask" \
      org.opencontainers.image.description="Greetings, a mountable Flask blueprint and an HTTP status-code service, served by waitress" \
      org.opencontainers.image.version="0.3.0" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12.12-slim-bookworm"

# A named account for the numeric user, so tools that look the uid up find it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin app

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Code and environment stay owned by root and read-only to the user that runs
# them: a compromised process cannot rewrite its own code. --chown on COPY,
# not RUN chown, which would duplicate every file into another layer.
COPY --from=build --chown=0:0 /opt/venv /opt/venv
WORKDIR /app
COPY --chown=0:0 start.py ./

USER 10001:10001
EXPOSE 8080
# start.py drains requests in flight on SIGTERM, for SIMPLE_FLASK_SHUTDOWN_GRACE
# (10 s by default): give `docker stop` more than that (--stop-timeout 15).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["simple-flask", "healthcheck"]
CMD ["python", "start.py"]
