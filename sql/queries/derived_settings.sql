select settings::varchar from derived_settings;
