"""HLS C++ emitter (``emit.py``) and the g++ compatibility headers (``include/``)."""
