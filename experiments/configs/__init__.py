"""One `get_config()` module per paper table: `<paper>_<table>.py`."""
