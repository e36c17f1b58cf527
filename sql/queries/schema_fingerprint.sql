-- The fingerprint of the last schema build (sql/00_settings.sql).
select fingerprint from schema_build;
