"""The main job behind ``moearch demo``: modelling, DSE, kernel generation and verification, and
the self-contained HTML report. The CLI layer is the one place that may import every package."""
