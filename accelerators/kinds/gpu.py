"""GPU: no section of its own; the roofline fields are required."""
from accelerators.kinds import KindSchema

KIND = KindSchema("gpu", roofline=True)
