-- `.tables` in `bess-etl sql`: the warehouse's tables and views.
select table_name as name, table_type as kind
from information_schema.tables
where table_schema = 'main'
order by name;
