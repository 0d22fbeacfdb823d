"""The loaded tables as dbt sources (descriptions and tests) and their staging models, from
the entity catalog: keys are tested unique and not null, codes against their accepted values,
and entries' references against the tables they point to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clockodo_source.dbt.marts import source_ref
from clockodo_source.settings import CODES, DELETED_COLUMN, ENTITIES

#: entries' columns that reference another table's id
REFERENCES = {"customers_id": "customers", "projects_id": "projects", "users_id": "users",
              "services_id": "services"}
#: dlt's bookkeeping, left out of the staging models
_NOT_STAGED = frozenset({"_dlt_load_id", DELETED_COLUMN})
#: the unit a description names for a duration the staging models turn into hours
_SECONDS = "seconds"


@dataclass(frozen=True)
class Table:
    """A loaded table: its description, key and its stored columns' descriptions."""

    name: str
    description: str
    key: tuple[str, ...]
    columns: Mapping[str, str]
    staged: bool  # a table of the catalog (child tables are sources only)


def loaded_tables(stored: Mapping[str, frozenset[str]],
                  account_column: str | None = None) -> list[Table]:
    """The catalog's tables that the dataset holds, in catalog order, with the columns it
    holds; `account_column`: the union of accounts, whose key starts with the account."""
    tables = []
    for entity in ENTITIES.values():
        for name, (description, columns) in entity.descriptions().items():
            if name not in stored:
                continue
            words = {**columns}
            key = entity.primary_key if name == entity.name else ("_dlt_id",)
            if account_column:
                words[account_column] = "the account the row was loaded from"
                key = (account_column, *key)
            held = {column: words.get(column, "") for column in words if column in stored[name]}
            held |= {column: "" for column in sorted(stored[name]) if column not in held}
            tables.append(Table(name, description, key, held, name == entity.name))
    return tables


def sources_yml(dataset: str, tables: list[Table]) -> dict[str, Any]:
    return {"version": 2, "sources": [{
        "name": "clockodo",
        "description": "Clockodo, loaded by clockodo-dlt (dlt); times in seconds, money in "
                       "the account's currency",
        "schema": dataset,
        "tables": [_source_table(table) for table in tables],
    }]}


def _source_table(table: Table) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": table.name, "description": table.description}
    if len(table.key) > 1:
        entry["data_tests"] = [{"clockodo_unique_key": {"arguments": {"columns":
                                                                      list(table.key)}}}]
    entry["columns"] = [_source_column(table, name, words)
                        for name, words in table.columns.items()]
    return entry


def _source_column(table: Table, name: str, words: str) -> dict[str, Any]:
    tests: list[Any] = []
    if name in table.key:
        tests.append("not_null")
        if len(table.key) == 1:
            tests.append("unique")
    codes = CODES.get((table.name, name))
    if codes:
        tests.append({"accepted_values": {"arguments": {
            "values": list(codes), "quote": not all(isinstance(c, int) for c in codes)}}})
    if table.name == "entries" and name in REFERENCES:
        tests.append({"relationships": {"arguments": {
            "to": f"source('clockodo', '{REFERENCES[name]}')", "field": "id"}}})
    column: dict[str, Any] = {"name": name, "description": words}
    if tests:
        column["data_tests"] = tests
    return column


def staging_name(table: Table) -> str:
    return f"stg_clockodo__{table.name}"


def _is_seconds(words: str) -> bool:
    return _SECONDS in words


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def staging_columns(table: Table) -> dict[str, tuple[str, str]]:
    """Each staging column: its SQL over the source (alias `src`) and its description.

    `id` becomes `<table>_id`, as Clockodo names it where other tables refer to it
    (`customers_id`); durations in seconds become `<column>_hours`; codes keep their column
    and gain a `<column>_label` with the meaning."""
    staged: dict[str, tuple[str, str]] = {}
    for name, words in table.columns.items():
        if name in _NOT_STAGED:
            continue
        if name == "id":
            staged[f"{table.name}_id"] = ("src.id", words)
        elif _is_seconds(words):
            staged[f"{name}_hours"] = (
                f"CAST(src.{name} AS {{{{ dbt.type_float() }}}}) / 3600",
                words.replace(_SECONDS, "hours"))
        else:
            staged[name] = (f"src.{name}", words)
        codes = CODES.get((table.name, name))
        if codes:
            cases = " ".join(f"WHEN {_literal(str(code)) if isinstance(code, str) else code} "
                             f"THEN {_literal(meaning)}" for code, meaning in codes.items())
            staged[f"{name}_label"] = (f"CASE src.{name} {cases} END",
                                       f"the meaning of {name}")
    return staged


def staging_sql(table: Table) -> str:
    columns = ",\n".join(f"    {sql} AS {name}" for name, (sql, _) in
                         staging_columns(table).items())
    return (f"{{# generated by `clockodo-pipeline dbt-package`: {table.name}, renamed and in "
            f"hours #}}\nSELECT\n{columns}\nFROM {source_ref(table.name)} AS src\n")


def staging_yml(tables: list[Table]) -> dict[str, Any]:
    return {"version": 2, "models": [{
        "name": staging_name(table),
        "description": f"{table.description} (staged: ids named <table>_id, durations in "
                       "hours, codes labelled)",
        "columns": [{"name": name, "description": words}
                    for name, (_, words) in staging_columns(table).items()],
    } for table in tables if table.staged]}
