"""Device catalog: one YAML file per accelerator, with the loader and validator."""
