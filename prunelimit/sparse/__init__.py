"""From a pruned checkpoint to a smaller file and a measured speed (``prunelimit export``).

``formats``: the tensor layouts (dense, bitmap, CSR) and their exact size model;
``sparse_file``: the safetensors file, written atomically and read back bit for bit;
``bench``: dense vs sparse inference latency with torch's sparse kernels;
``exporter``: the command as a function. docs/export.md explains the choices.

The package is not named ``export``: ``prunelimit.export`` is the library function
(``prunelimit.library_training.export``), which a subpackage of that name would shadow
once imported.
"""
