insert or replace into devices by name select *, now() as updated_at from devices_batch;
