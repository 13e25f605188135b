"""Demo data for `make run`: each app contributes one idempotent seeding function."""

from django.utils.module_loading import import_string

DEMO_SEEDERS = [
    "accounts.demo.seed_accounts",
    "pipeline.demo.seed_pipeline",
    "catalog.demo.seed_catalog",
    "pipeline.photogrammetry.demo.seed_photogrammetry",
]


def seed_all(stdout) -> None:
    for dotted in DEMO_SEEDERS:
        import_string(dotted)(stdout)
