# liftoff: build on Debian 12, run on a slim Debian 12 with the runtime libraries only.
#   docker build -t liftoff .
#   docker run -p 5000:5000 -v liftoff-data:/data liftoff

FROM debian:12-slim AS build
# scripts/deps.sh installs the build packages (compiler, meson, ninja, the -dev libraries).
COPY scripts/deps.sh /src/scripts/deps.sh
RUN bash /src/scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN meson setup /build --buildtype=release \
 && meson compile -C /build \
 && /build/liftoff --version

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libcjson1 libuv1 libsqlite3-0 libcurl4 \
      libpython3.11 python3-cloudpickle python3-packaging ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin liftoff \
 && mkdir /data && chown liftoff:liftoff /data && chmod 0700 /data
COPY --from=build /build/liftoff /usr/local/bin/liftoff
USER liftoff
WORKDIR /data
VOLUME /data
EXPOSE 5000
CMD ["liftoff", "serve", "--host", "0.0.0.0", "--data-dir", "/data"]
