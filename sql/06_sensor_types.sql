-- Sensor type metadata from `sensortype/list`.
create table if not exists sensor_types (
    type   integer primary key,
    label  varchar,
    units  varchar
);
