insert or replace into sensor_types by name select * from sensor_types_batch;
