"""Device models: each turns an evaluated operator table into per-operator time, bound, unit and tier."""
