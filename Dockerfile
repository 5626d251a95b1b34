# Function app image: Azure Functions host (.NET 10 isolated) + ONNX Runtime's CUDA dependencies.
#
#   az acr build -r <registry> -t lcm-functions:v1 .                      # model from the Azure Files share
#   az acr build -r <registry> -t lcm-functions:v1 --build-arg MODEL_DIR=model/lcm-dreamshaper-v7 .
#   az acr build -r <registry> -t lcm-functions:cpu --build-arg INSTALL_CUDA=false .   # for cpuOnly
#
# The GPU driver (libcuda.so.1) is not in the image: the host injects it into GPU replicas.

ARG FUNCTIONS_BASE=mcr.microsoft.com/azure-functions/dotnet-isolated:4-dotnet-isolated10.0

# ---- build ----
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The whole context (see .dockerignore): the functions project pulls in sibling projects and
# Directory.Build.props, and this keeps the Dockerfile independent of the project graph.
COPY . .
RUN dotnet publish functions/Lcm.Functions.csproj -c Release -r linux-x64 --self-contained false \
        -p:PublishReadyToRun=true -o /home/site/wwwroot
# The real-time server (the second container app runs this image with it as its command); self-contained,
# so it does not depend on which ASP.NET Core runtime the Functions base image carries.
RUN dotnet publish realtime/Lcm.Realtime.Host/Lcm.Realtime.Host.csproj -c Release -r linux-x64 --self-contained true \
        -o /home/site/realtime

# ---- runtime ----
FROM ${FUNCTIONS_BASE} AS runtime

# CUDA 13 + cuDNN 9: what ONNX Runtime 1.31's CUDA provider links (cudart, cublas, cublasLt, curand)
# or loads at run time (cudnn, cufft, nvrtc).
ARG INSTALL_CUDA=true
ARG CUDA_VERSION=13-0

# NVIDIA's apt repo is chosen from the base image's OS (debian12, ubuntu2404, ...), since the
# Functions .NET 10 image follows the .NET images' distro choice rather than ours.
# The toolkit libraries live under /usr/local/cuda-X.Y; an ld.so.conf entry lets the loader find
# them without relying on LD_LIBRARY_PATH reaching the worker process.
RUN set -eux; \
    if [ "$INSTALL_CUDA" = "true" ]; then \
        apt-get update; \
        apt-get install -y --no-install-recommends ca-certificates curl; \
        . /etc/os-release; \
        repo="${ID}$(echo "${VERSION_ID}" | tr -d .)"; \
        curl -fsSL -o /tmp/cuda-keyring.deb \
            "https://developer.download.nvidia.com/compute/cuda/repos/${repo}/x86_64/cuda-keyring_1.1-1_all.deb"; \
        dpkg -i /tmp/cuda-keyring.deb; \
        rm /tmp/cuda-keyring.deb; \
        apt-get update; \
        apt-get install -y --no-install-recommends \
            cuda-cudart-${CUDA_VERSION} \
            libcublas-${CUDA_VERSION} \
            libcufft-${CUDA_VERSION} \
            libcurand-${CUDA_VERSION} \
            cuda-nvrtc-${CUDA_VERSION} \
            libcudnn9-cuda-${CUDA_VERSION%%-*}; \
        echo "/usr/local/cuda-$(echo ${CUDA_VERSION} | tr - .)/targets/x86_64-linux/lib" > /etc/ld.so.conf.d/zz-cuda.conf; \
        ldconfig; \
        missing=""; \
        for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcufft.so libcudnn.so.9 libnvrtc.so.13; do \
            ldconfig -p | grep -q "$lib" || missing="$missing $lib"; \
        done; \
        if [ -n "$missing" ]; then echo "CUDA libraries not found:$missing" >&2; exit 1; fi; \
        rm -rf /var/lib/apt/lists/*; \
    fi

# ffmpeg (and ffprobe beside it) decodes MP4, WebM and MOV sources of video jobs and encodes their outputs.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ffmpeg; \
    rm -rf /var/lib/apt/lists/*

# The host listens on 8080, not the base image's 80: a user other than root cannot bind a port below 1024.
# The prepared-model and LoRA caches go to the one folder the app's user may write.
ENV AzureWebJobsScriptRoot=/home/site/wwwroot \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true \
    ASPNETCORE_URLS=http://+:8080 \
    LCM_CACHE_DIR=/home/site/cache \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# Optional baked-in model (modelSource=image reads LCM_MODEL_PATH=/home/site/model). The default
# folder holds only a README, so the image builds the same way without a model.
ARG MODEL_DIR=infra/docker/no-model
COPY ${MODEL_DIR}/ /home/site/model/

COPY --from=build /home/site/wwwroot /home/site/wwwroot
COPY --from=build /home/site/realtime /home/site/realtime

# Fail the build, not the first GPU job, if the CUDA provider has an unresolved dependency.
# libcuda.so.1 is the driver and only exists at run time.
RUN set -eu; \
    lib=/home/site/wwwroot/libonnxruntime_providers_cuda.so; \
    if [ "$INSTALL_CUDA" = "true" ] && [ -f "$lib" ]; then \
        unresolved="$(ldd "$lib" | grep 'not found' | grep -v 'libcuda.so.1' || true)"; \
        if [ -n "$unresolved" ]; then echo "$unresolved" >&2; exit 1; fi; \
    fi

# Not root: a fixed uid (10001, so volume permissions can name it) that owns only what the app writes.
# The program, the model and the CUDA libraries stay root's and read-only to it.
RUN groupadd --system --gid 10001 lcm; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /home/site/cache --shell /usr/sbin/nologin lcm; \
    mkdir -p /home/site/cache; \
    chown 10001:10001 /home/site/cache
USER 10001:10001
EXPOSE 8080
