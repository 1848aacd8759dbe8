"""Machine instructions per request, counted by callgrind: `python -m benchmarks.instructions`.

What is counted and how is told in cli.py, whose docstring is the mode's
--help. The modules: cases.py (what is counted, and the ratios), callgrind.py
(one server counted), measure.py (every case, every run), report.py (the
summary, its table and files), cli.py (the command line).
"""
