"""The entity catalog matches the public contract (interface table names and keys)."""

from __future__ import annotations

from clockodo_source.settings import CATALOG, ENTITIES, Partition

# Table -> primary key, as the public interface documents them.
CONTRACT = {
    "entries": ("id",),
    "projects": ("id",),
    "customers": ("id",),
    "users": ("id",),
    "teams": ("id",),
    "services": ("id",),
    "absences": ("id",),
    "work_times": ("users_id", "date"),
    "target_hours": ("id",),
    "overtime_carries": ("id",),
    "holidays_quota": ("id",),
    "holidays_carries": ("id",),
    "non_business_days": ("id", "evaluated_date"),
    "lumpsum_services": ("id",),
    "surcharges": ("id",),
    "user_reports": ("users_id", "year"),
    "customers_projects": ("customers_id", "projects_id"),
}

CURRENT_PATHS = {
    "entries": "/v2/entries", "projects": "/v4/projects", "customers": "/v3/customers",
    "users": "/v3/users", "teams": "/v3/teams", "services": "/v4/services",
    "absences": "/v4/absences", "work_times": "/v2/workTimes", "target_hours": "/targethours",
    "overtime_carries": "/v3/overtimeCarry", "holidays_quota": "/v2/holidaysQuota",
    "holidays_carries": "/v3/holidaysCarry", "non_business_days": "/v2/nonbusinessDays",
    "lumpsum_services": "/v4/lumpSumServices", "surcharges": "/v2/surchargeModels",
    "user_reports": "/userreports",
}


def test_every_contract_table_with_its_key() -> None:
    assert {entity.name: entity.primary_key for entity in CATALOG} == CONTRACT


def test_current_endpoint_versions() -> None:
    for name, path in CURRENT_PATHS.items():
        assert ENTITIES[name].path == path
    assert ENTITIES["surcharges"].fallback_path == "/v2/surcharges"


def test_dispositions_follow_partitioning() -> None:
    for entity in CATALOG:
        expected = "merge" if entity.partition in (
            Partition.ENTRY_WINDOWS, Partition.YEARS, Partition.USER_WINDOWS
        ) else "replace"
        assert entity.write_disposition == expected
        hints = entity.column_hints()
        assert all(hints[key]["nullable"] is False for key in entity.primary_key)
        assert ("_deleted" in hints) == (expected == "merge")


def test_partitioned_entities_know_their_range_column() -> None:
    for entity in CATALOG:
        if entity.write_disposition == "merge":
            assert entity.range_column
            assert entity.range_column in entity.column_types


def test_page_sizes_are_documented_maxima() -> None:
    sizes = {entity.name: entity.page_size for entity in CATALOG if entity.page_size}
    assert sizes == {
        "entries": 1000, "projects": 5000, "customers": 5000, "users": 1000, "teams": 1000,
        "services": 5000, "lumpsum_services": 5000,
    }


def test_child_tables_are_named_as_dlt_names_them() -> None:
    for entity in CATALOG:
        hinted = {"__".join((entity.name, *path)) for path in entity.nested_hints()}
        assert hinted == set(entity.child_tables), entity.name


def test_dates_and_times_convert_unambiguously_by_field_name() -> None:
    """Dates and date-times are converted by field name at any depth of a row: a name is
    not a date-time in one place of an entity and something else in another."""
    for entity in CATALOG:
        kinds: dict[str, set[str]] = {}
        for types in (entity.column_types, *entity.child_tables.values()):
            for name, kind in types.items():
                kinds.setdefault(name.rsplit("__", 1)[-1], set()).add(kind)
        for leaf, found in kinds.items():
            if found & {"date", "timestamp"}:
                assert len(found) == 1, f"{entity.name}: {leaf} is {found}"
        assert entity.timestamps == {leaf for leaf, found in kinds.items()
                                     if found == {"timestamp"}}
        assert entity.dates == {leaf for leaf, found in kinds.items() if found == {"date"}}
