"""Data: one TOML file per firmware family, read by ``fabhub.drivers``."""
