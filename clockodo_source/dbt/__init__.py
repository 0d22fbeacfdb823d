"""A dbt project over the loaded dataset, generated from the entity catalog and the models:
sources with descriptions and tests, staging models, and the five marts rendered from the
same model definitions the CLI builds, so the package can never drift from them."""

from clockodo_source.dbt.package import Package, write_package

__all__ = ["Package", "write_package"]
