# lamina as a CI image: the `lamina` binary (with lamina-ric inside it) on a minimal Debian
# userland (glibc, a shell for CI runners' `script:` steps). Build the binary, then the image,
# from this folder:
#
#   cargo build --release --locked && docker build -t lamina .
#
# BASE is any glibc image at least as new as the machine that built the binary:
# debian:trixie-slim by default; tests/ci_image.rs uses lamina's own `provided` base
# (`lamina base build provided`), since nothing can be pulled there. lamina trusts its
# built-in web PKI roots and the base's CA bundle when it has one.
#
# In CI: `docker run --rm -v "$PWD:/work" -v /var/run/docker.sock:/var/run/docker.sock lamina
# build . --push REF` — the Docker socket only for requirements.txt installs and --load; keep
# LAMINA_CACHE (/cache) on a volume to reuse the layer cache between jobs.
ARG BASE=debian:trixie-slim
FROM ${BASE}
ARG LAMINA_BIN=target/release/lamina
COPY ${LAMINA_BIN} /usr/local/bin/lamina
ENV LAMINA_CACHE=/cache HOME=/root
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/lamina"]
CMD ["--help"]
