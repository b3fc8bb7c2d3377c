# syntax=docker/dockerfile:1
# The mirrorgate image: the gateway and mirrorgate-echo on Debian 12 slim, running as a non-root user
# (docs/kubernetes.md, "Deploying it"; charts/mirrorgate runs it).
#
#   docker build -t mirrorgate:0.1.0 .
#
# Build stage: Debian 12 with the build dependencies of scripts/deps.sh (toolchain and libraries; not the
# test, demo and fuzzing tools), a Release build of the two binaries only, without the sanitizer variant.
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config python3 \
      libasio-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libre2-dev libspdlog-dev libfmt-dev \
      libcli11-dev libgtest-dev libgmock-dev libjemalloc-dev libcurl4-openssl-dev libnghttp2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# CMake also configures the unit tests (GoogleTest) and the e2e tests (Python), but only the two binaries
# are built. No .git in the context (.dockerignore): `mirrorgate --version` says "commit unknown".
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMG_SANITIZER_VARIANT=OFF \
 && cmake --build /build --target mirrorgate mirrorgate-echo \
 && strip /build/mirrorgate /build/mirrorgate-echo

# Runtime stage: the shared libraries the binaries load (`ldd build/mirrorgate`; libstdc++6 and libgcc-s1
# are in the base image), and nothing else.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libcurl4 libnghttp2-14 libyaml-cpp0.7 libre2-9 libspdlog1.10 libfmt9 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/mirrorgate /build/mirrorgate-echo /usr/local/bin/
# Ports below 1024 (80, 443) as a non-root user: the gateway binary carries CAP_NET_BIND_SERVICE as a file
# capability. Kubernetes grants no ambient capabilities, so adding NET_BIND_SERVICE to the container (the
# chart does) is not enough on its own; and the container must keep that capability, or the kernel refuses
# to start a binary whose file capability it cannot grant. setcap is removed again.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/local/bin/mirrorgate \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="mirrorgate" \
      org.opencontainers.image.description="Kubernetes Gateway API gateway with provable traffic mirroring" \
      org.opencontainers.image.version="0.1.0"
# The chart's runAsUser; "nonroot" in distroless images.
USER 65532:65532
# Data-plane ports are whatever the Gateways declare; 9901 is the admin listener (the chart binds it to
# 0.0.0.0; the binary's own default is 127.0.0.1).
EXPOSE 80 443 9901
ENTRYPOINT ["/usr/local/bin/mirrorgate"]
