delete from derived_settings;

insert into derived_settings values ($fingerprint::json, now());
