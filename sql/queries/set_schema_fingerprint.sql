-- Record the schema build just run (sql/00_settings.sql).
delete from schema_build;
insert into schema_build values ($fingerprint);
