"""Docker fixtures of the DataKit tests (engine, locally built images), shared with tests/datakits."""

from tests.datakits.docker_images import docker_engine, example_kit_image, test_kit_image  # noqa: F401
