-- Accumulate per-partition ingest counts (only readings new to the lake are counted).
insert into data_quality by name
select *, now() as updated_at from quality_batch
on conflict (mac, date) do update set
    rows_valid = data_quality.rows_valid + excluded.rows_valid,
    rows_new = data_quality.rows_new + excluded.rows_new,
    duplicates = data_quality.duplicates + excluded.duplicates,
    out_of_order = data_quality.out_of_order + excluded.out_of_order,
    invalid_null = data_quality.invalid_null + excluded.invalid_null,
    invalid_nan = data_quality.invalid_nan + excluded.invalid_nan,
    invalid_inf = data_quality.invalid_inf + excluded.invalid_inf,
    invalid_out_of_range = data_quality.invalid_out_of_range + excluded.invalid_out_of_range,
    updated_at = excluded.updated_at;
