// Minute roll-ups of UMOS telemetry in InfluxDB 2.x, as a task (docs/telemetry.md, InfluxDB roll-ups):
// influx task create --org umos --file rollups-2x.flux. Writes to bucket "umos_1m" (create it first,
// with the retention the minute roll-ups should have). Not run here: no InfluxDB 2.x on this machine.
option task = {name: "umos-property-1m", every: 1m, offset: 30s}

points =
    from(bucket: "umos")
        |> range(start: -task.every)
        |> filter(fn: (r) => r._measurement == "device_property" and r._field == "value")

rollup = (fn, name) =>
    points
        |> aggregateWindow(every: 1m, fn: fn, createEmpty: false)
        |> set(key: "_field", value: name)
        |> set(key: "_measurement", value: "device_property_1m")

union(tables: [rollup(fn: count, name: "count"), rollup(fn: min, name: "min"), rollup(fn: max, name: "max"), rollup(fn: sum, name: "sum"), rollup(fn: first, name: "first"), rollup(fn: last, name: "last")])
    |> to(bucket: "umos_1m", org: "umos")
