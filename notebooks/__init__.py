"""The example notebooks, shipped inside the wheel as ``ruralnet.notebooks`` (``ruralnet
notebooks --out DIR`` copies them out; they read their data through ``ruralnet.datasets``)."""
