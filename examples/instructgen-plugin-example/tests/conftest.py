"""The plugin-author kit: registry, fake_backend and run_recipe fixtures."""

pytest_plugins = ["instructgen.testing"]
